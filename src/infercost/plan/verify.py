"""Verification: the best screened candidates served by the simulator under the actual workload.

Each candidate becomes a simulate `Scenario` (its deployment, scheduler limits and replicas — a
prefill and a decode group when disaggregated) with the plan's workload: the same arrival process,
length distributions and classes, for `verify.duration_s` simulated seconds with a fixed seed.
Requests arriving in the first `warmup_s` seconds (an empty system filling up) are left out; every
class with an SLO must meet each of its targets at its percentile, and no request may be rejected.

A candidate that fails gets one more replica at a time (the prefill pool when TTFT misses, the
decode pool when TPOT or E2E does) up to `max_extra_replicas`; one that passes gives replicas back
one at a time (up to `trim`; disaggregated: from either pool, the one with more slack tried first)
until no pool can lose one and still pass — the screen's queueing estimates are conservative, the
simulator is the judge. A trimmed winner is thus a local minimum: one replica fewer in any pool
fails. Each candidate is an independent task (no shared
state), so a process pool or Ray runs them with the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from infercost.calibration.profile import CalibrationRef
from infercost.econ.cost import usd_per_mtok
from infercost.plan.space import PlanRequest
from infercost.sim.scenario import ClusterSpec, Deployment, ReplicaGroup, Scenario, Scheduler
from infercost.simulation import simulate


class SimCheck(BaseModel):
    """One simulation of a candidate at one replica count. Latencies in ms (after warm-up)."""

    model_config = ConfigDict(frozen=True)

    replicas: int
    prefill_replicas: int
    decode_replicas: int
    passed: bool
    ttft_ms_p99: float
    tpot_ms_p99: float
    e2e_ms_p99: float
    violation: float  # worst measured ÷ target over classes and targets (≤ 1 passes)
    misses: list[str]  # each target missed, with its numbers
    requests: int  # counted (after warm-up)
    rejected: int
    preemptions: int
    busy_fraction: float
    usd_per_hour: float
    usd_per_mtok_output: float  # at the offered load


@dataclass(frozen=True)
class VerifyTask:
    request: PlanRequest
    candidate: dict[str, Any]  # a screened row (see screen.rank)
    rate_rps: float
    osl_mean: float
    memory_utilization: float
    duration_s: float | None
    warmup_s: float
    seed: int | None
    max_extra_replicas: int
    trim: int
    calibration: CalibrationRef | None = None  # a deployment profile replacing the shipped one


class Verification(BaseModel):
    model_config = ConfigDict(frozen=True)

    passed: bool
    final: SimCheck  # the cheapest passing check, else the last one tried
    checks: list[SimCheck]


def scenario_for(task: VerifyTask, prefill: int, decode: int) -> Scenario:
    """The simulate scenario of a candidate: `decode` replicas (all of them when aggregated) and,
    when disaggregated, `prefill` prefill replicas."""
    row, request = task.candidate, task.request
    deployment = Deployment(
        hardware=row["hardware"],
        tp=row["tp"],
        pp=row["pp"],
        ep=row["ep"],
        weights=row["weights"],
        kv=row["kv"],
        engine=request.search.engine,
        price_per_chip_hour=row["usd_per_chip_hour"],
    )
    scheduler = Scheduler(
        max_num_seqs=row["max_num_seqs"],
        max_num_batched_tokens=row["chunk"],
        chunked_prefill=True,
        prefix_caching=True,
        memory_utilization=task.memory_utilization,
    )
    if row["mode"] == "disaggregated":
        cluster = ClusterSpec(
            groups=(
                ReplicaGroup(count=prefill, role="prefill"),
                ReplicaGroup(count=decode, role="decode"),
            )
        )
    else:
        cluster = ClusterSpec(replicas=decode)
    workload = request.workload
    if task.duration_s is not None:
        workload = workload.model_copy(update={"duration_s": task.duration_s, "requests": None})
    return Scenario(
        name=f"{request.name}-verify",
        model=request.model,
        deployment=deployment,
        scheduler=scheduler,
        cluster=cluster,
        slo=request.slo,
        workload=workload,
    )


def check(task: VerifyTask, prefill: int, decode: int) -> SimCheck:
    """Simulate the candidate at these pool sizes and score it against every class's SLO."""
    sim = simulate(
        scenario_for(task, prefill, decode), seed=task.seed, calibration=task.calibration
    )
    cols = sim.requests()
    arrival = cols["arrival_s"]
    keep = arrival >= min(task.warmup_s, float(np.max(arrival)) / 2.0)
    done = keep & np.isfinite(cols["finish_s"])
    rejected = int(np.sum(keep & (cols["rejected"] != "")))
    misses: list[str] = []
    worst = 0.0
    for name, slo in task.request.class_slos().items():
        mine = done & (cols["request_class"] == name)
        if not mine.any():
            continue
        for label, column, limit in (
            ("TTFT", "ttft_s", slo.ttft_ms),
            ("TPOT", "tpot_s", slo.tpot_ms),
            ("E2E", "e2e_s", slo.e2e_ms),
        ):
            if limit is None:
                continue
            values = cols[column][mine]
            values = values[np.isfinite(values)]
            if not values.size:
                continue
            measured = float(np.percentile(values, slo.percentile)) * 1e3
            worst = max(worst, measured / limit)
            if measured > limit:
                where = f" ({name})" if len(task.request.workload.classes) > 1 else ""
                misses.append(
                    f"p{slo.percentile:g} {label} {measured:.0f} ms > {limit:g} ms{where}"
                    if label != "TPOT"
                    else f"p{slo.percentile:g} TPOT {measured:.1f} ms > {limit:g} ms{where}"
                )
    if rejected:
        reasons = sorted({str(r) for r in cols["rejected"][keep] if r})
        misses.append(f"{rejected} requests rejected ({reasons[0]})")
        worst = max(worst, float("inf"))

    def p99(column: str) -> float:
        values = cols[column][done]
        values = values[np.isfinite(values)]
        return float(np.percentile(values, 99)) * 1e3 if values.size else float("nan")

    replicas = prefill + decode
    price = float(task.candidate["usd_per_chip_hour"])
    chips = replicas * int(task.candidate["chips_per_replica"])
    return SimCheck(
        replicas=replicas,
        prefill_replicas=prefill,
        decode_replicas=decode if task.candidate["mode"] == "disaggregated" else 0,
        passed=not misses,
        ttft_ms_p99=p99("ttft_s"),
        tpot_ms_p99=p99("tpot_s"),
        e2e_ms_p99=p99("e2e_s"),
        violation=worst,
        misses=misses,
        requests=int(keep.sum()),
        rejected=rejected,
        preemptions=int(sim.summary["preemptions"]),
        busy_fraction=float(sim.summary["busy_fraction"]),
        usd_per_hour=price * chips,
        usd_per_mtok_output=float(usd_per_mtok(price, chips, 1.0, task.rate_rps * task.osl_mean)),
    )


def _grow(c: SimCheck, prefill: int, decode: int, disaggregated: bool) -> tuple[int, int]:
    """One more replica where the miss is: prefill for TTFT, decode otherwise."""
    if disaggregated and any("TTFT" in m for m in c.misses):
        return prefill + 1, decode
    return prefill, decode + 1


def _smaller(c: SimCheck, prefill: int, decode: int, task: VerifyTask) -> list[tuple[int, int]]:
    """Pool sizes with one replica fewer, the pool with the most slack first (disaggregated: the
    prefill pool when TTFT has more room than TPOT, else the decode pool)."""
    if task.candidate["mode"] != "disaggregated":
        return [(prefill, decode - 1)] if decode > 1 else []
    slo = task.request.slo or next(iter(task.request.class_slos().values()))
    ttft_use = c.ttft_ms_p99 / slo.ttft_ms if slo.ttft_ms else 0.0
    tpot_use = c.tpot_ms_p99 / slo.tpot_ms if slo.tpot_ms else 0.0
    options = [(prefill - 1, decode), (prefill, decode - 1)]
    if tpot_use < ttft_use:
        options.reverse()
    return [(p, d) for p, d in options if p >= 1 and d >= 1]


def verify_candidate(task: VerifyTask) -> Verification:
    """Simulate at the screened replicas; grow a failing candidate, trim a passing one."""
    row = task.candidate
    disaggregated = row["mode"] == "disaggregated"
    prefill = int(row["prefill_replicas"])
    decode = int(row["replicas"]) - prefill
    first = check(task, prefill, decode)
    checks = [first]
    if first.passed:
        best = first
        for _ in range(task.trim):
            for fewer in _smaller(best, prefill, decode, task):
                trial = check(task, *fewer)
                checks.append(trial)
                if trial.passed:
                    best, (prefill, decode) = trial, fewer
                    break
            else:  # no pool can give a replica back
                break
        return Verification(passed=True, final=best, checks=checks)
    last = first
    for _ in range(task.max_extra_replicas):
        prefill, decode = _grow(last, prefill, decode, disaggregated)
        last = check(task, prefill, decode)
        checks.append(last)
        if last.passed:
            return Verification(passed=True, final=last, checks=checks)
    return Verification(passed=False, final=last, checks=checks)
