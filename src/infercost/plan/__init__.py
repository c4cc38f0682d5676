"""The planner: the cheapest deployment that meets a workload's SLOs, verified by the simulator.

`plan(WORKLOAD)` runs four stages, each a module of its own:

1. `space` — the search space from the plan file: hardware (catalog subset or all priced chips) ×
   chips per replica × valid tp/pp/ep × weight and KV formats × max_num_seqs × chunk budget ×
   aggregated or disaggregated prefill.
2. `screen` — every point through the vectorized analytical model (continuous-batching steady
   state, memory plan, queueing estimates of the SLO percentiles): capacity per replica at the SLO,
   replicas for the load with headroom, $/hour and $/1M output tokens.
3. `verify` — the cheapest `top` deployments served by the simulator under the actual workload;
   failing ones get replicas added, passing ones give spare replicas back. Rounds continue while an
   unverified screened deployment is cheaper than the best verified one, so no cheaper screened
   candidate is left unchecked. The winner is the cheapest deployment the simulator passed.
4. `launch` and `whatif` — the engine commands for the winner, and what FP8, an FP8 KV cache,
   (dis)aggregation or another GPU type would change.

Screening and verification run on a local process pool or on Ray (`executor`); the answer is the
same either way. Nothing meets the SLO → `InfeasibleError` naming the closest candidate and the
target it misses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from infercost.calibration.profile import CalibrationRef, efficiency_for
from infercost.econ.frontier import pareto_mask
from infercost.plan.executor import make_executor
from infercost.plan.launch import LaunchConfig, launch_config
from infercost.plan.screen import (
    Columns,
    InfeasibleError,
    Load,
    describe,
    infeasible,
    load_profile,
    merge,
    rank,
    screen_task,
    screen_tasks,
)
from infercost.plan.space import PlanRequest, Space, build_space, load_plan
from infercost.plan.verify import SimCheck, Verification, VerifyTask, verify_candidate
from infercost.plan.whatif import WhatIf, key_of, whatifs

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class PlanCandidate(_Frozen):
    """One deployment: screened figures, and the simulator's verdict when it was verified."""

    rank: int
    hardware: str
    weights: str
    kv: str
    chips_per_replica: int
    tp: int
    pp: int
    ep: int
    mode: str  # aggregated | disaggregated
    max_num_seqs: int
    chunk: int  # max_num_batched_tokens
    replicas: int  # final: verified when simulated, else screened
    prefill_replicas: int  # disaggregated only (0 otherwise)
    decode_replicas: int
    usd_per_chip_hour: float
    usd_per_hour: float
    usd_per_mtok_output: float  # at the offered load
    ttft_ms_p99: float  # simulated when verified, else predicted
    tpot_ms_p99: float
    latency_source: str  # "simulated" | "screened"
    predicted_ttft_ms_p99: float  # the screen's estimate at the SLO percentile
    predicted_tpot_ms_p99: float
    screened_replicas: int
    screened_usd_per_hour: float
    headroom: float  # spare capacity above the load at these replicas, by the screen's capacity
    # per (decode) replica: 0.1 = 10 %; negative when the simulator passed fewer replicas than the
    # screen thought the load needs
    bound: str  # what stops a replica from taking more load: tpot, ttft, max_num_seqs, kv memory
    status: str  # "winner" | "passed" | "failed" | "not simulated"
    why_not: str  # why it lost to the winner ("" for the winner)
    simulations: list[SimCheck]

    @property
    def layout(self) -> str:
        return describe(self.model_dump())


class ParetoPoint(_Frozen):
    hardware: str
    deployment: str
    usd_per_hour: float
    usd_per_mtok_output: float
    ttft_ms_p99: float
    tpot_ms_p99: float
    pareto: bool
    winner: bool
    simulated: bool


class PlanResult(_Frozen):
    name: str
    model: str
    targets: str  # "p99 TTFT ≤ 1000 ms, TPOT ≤ 50 ms"
    percentile: float
    load_rps: float
    isl_mean: float
    osl_mean: float
    best: PlanCandidate
    runner_up: PlanCandidate | None
    runner_up_lost: str
    candidates: list[PlanCandidate]  # ranked (winner first)
    launch: LaunchConfig
    whatifs: list[WhatIf]
    pareto: list[ParetoPoint]
    points_screened: int
    points_feasible: int
    deployments_feasible: int  # feasible points, one per deployment (best scheduler limits)
    simulations: int
    exhaustive: bool  # every screened deployment cheaper than the winner was simulated
    skipped_hardware: list[str]
    price_sources: dict[str, str]


@dataclass(frozen=True)
class Plan:
    """The answer (`result`, JSON-ready), every screened point (`sweep`) and stage timings."""

    request: PlanRequest
    result: PlanResult
    sweep: Columns
    timings_s: dict[str, float]

    @property
    def best(self) -> PlanCandidate:
        return self.result.best

    def to_dict(self) -> dict[str, Any]:
        return self.result.model_dump(mode="json")


SHOWN_UNVERIFIED = 5  # screened-only deployments listed after the simulated ones


def plan(
    source: PlanRequest | str | Path | dict[str, Any],
    *,
    hardware: list[str] | None = None,
    top: int | None = None,
    executor: str = "local",
    workers: int | None = None,
    verify_duration_s: float | None = None,
    on_progress: Progress | None = None,
    calibration: CalibrationRef | None = None,
) -> Plan:
    """The cheapest deployment that meets the workload's SLOs (see the module docstring).

    `hardware` restricts the search to these ids (else the plan file's list, else every priced
    chip); `top` is how many deployments are simulated per round; `executor` is "local" (process
    pool) or "ray"; `verify_duration_s` overrides the simulated seconds per check; `calibration`
    (a profile from `infercost calibrate`, or its path) replaces the shipped efficiency in both the
    screen and the simulations.
    """
    request = source if isinstance(source, PlanRequest) else load_plan(source)
    updates: dict[str, Any] = {}
    if top is not None:
        updates["top"] = top
    if verify_duration_s is not None:
        updates["duration_s"] = verify_duration_s
    if updates:
        request = request.model_copy(update={"verify": request.verify.model_copy(update=updates)})
    clock = time.perf_counter()
    space = build_space(request, hardware, efficiency_for(calibration))
    load = load_profile(request, seed=request.verify.seed)
    tasks = screen_tasks(space, load, request.search.headroom, request.search.max_replicas)
    runner = make_executor(executor, workers)
    try:
        done = _counter(on_progress, "screen", len(tasks))
        table = merge(runner.map(screen_task, tasks, done))
        screened = time.perf_counter()
        ranked = rank(table)
        if not ranked:
            raise infeasible(table, load, space)
        verified, exhaustive = _verify(
            request, space, load, ranked, runner, on_progress, calibration
        )
    finally:
        runner.close()
    verify_s = time.perf_counter() - screened
    result = _result(request, space, load, table, ranked, verified, exhaustive, tasks)
    timings = {
        "screen": screened - clock,
        "verify": verify_s,
        "total": time.perf_counter() - clock,
    }
    return Plan(request=request, result=result, sweep=table, timings_s=timings)


def _counter(on_progress: Progress | None, stage: str, total: int) -> Callable[[], None]:
    count = [0]

    def done() -> None:
        count[0] += 1
        if on_progress:
            on_progress(stage, count[0], total)

    if on_progress:
        on_progress(stage, 0, total)
    return done


def _verify(
    request: PlanRequest,
    space: Space,
    load: Load,
    ranked: list[dict[str, Any]],
    runner: Any,
    on_progress: Progress | None,
    calibration: CalibrationRef | None,
) -> tuple[dict[int, Verification], bool]:
    """Rounds of the `top` cheapest unverified deployments until none left is cheaper than the
    best passing one (or `max_rounds` is reached). Keys: positions in `ranked`."""
    spec = request.verify
    results: dict[int, Verification] = {}
    position = 0
    for _ in range(spec.max_rounds):
        batch = list(range(position, min(position + spec.top, len(ranked))))
        if not batch:
            break
        position = batch[-1] + 1
        tasks = [
            VerifyTask(
                request=request,
                candidate=ranked[i],
                rate_rps=load.rate_rps,
                osl_mean=load.osl_mean,
                memory_utilization=space.memory_utilization,
                duration_s=spec.duration_s,
                warmup_s=spec.warmup_s,
                seed=spec.seed,
                max_extra_replicas=spec.max_extra_replicas,
                trim=spec.trim,
                calibration=calibration,
            )
            for i in batch
        ]
        done = _counter(on_progress, "simulate", len(tasks))
        for i, outcome in zip(batch, runner.map(verify_candidate, tasks, done), strict=True):
            results[i] = outcome
        best = _cheapest_passing(results, ranked)
        if best is not None and (
            position >= len(ranked)
            or ranked[position]["usd_per_hour"] >= results[best].final.usd_per_hour
        ):
            return results, True
    best = _cheapest_passing(results, ranked)
    if best is None:
        raise _infeasible_in_simulation(results, ranked, load)
    return results, position >= len(ranked)


def _cheapest_passing(results: dict[int, Verification], ranked: list[dict[str, Any]]) -> int | None:
    passing = [i for i, v in results.items() if v.passed]
    if not passing:
        return None
    return min(
        passing,
        key=lambda i: (results[i].final.usd_per_hour, results[i].final.tpot_ms_p99, i),
    )


def _infeasible_in_simulation(
    results: dict[int, Verification], ranked: list[dict[str, Any]], load: Load
) -> InfeasibleError:
    i, check = min(
        ((i, c) for i, v in results.items() for c in v.checks),
        key=lambda ic: (ic[1].violation, ic[0]),
    )
    return InfeasibleError(
        f"infeasible: no simulated deployment meets {load.targets()}; closest: "
        f"{describe(ranked[i])} with {check.replicas} replicas measured {'; '.join(check.misses)}"
    )


def _candidate(
    rank_: int,
    row: dict[str, Any],
    load_rps: float,
    outcome: Verification | None,
    status: str,
    why_not: str,
) -> PlanCandidate:
    final = outcome.final if outcome is not None and outcome.passed else None
    simulated = outcome.final if outcome is not None else None
    replicas = final.replicas if final else int(row["replicas"])
    prefill = final.prefill_replicas if final else int(row["prefill_replicas"])
    return PlanCandidate(
        rank=rank_,
        hardware=row["hardware"],
        weights=row["weights"],
        kv=row["kv"],
        chips_per_replica=row["chips_per_replica"],
        tp=row["tp"],
        pp=row["pp"],
        ep=row["ep"],
        mode=row["mode"],
        max_num_seqs=row["max_num_seqs"],
        chunk=row["chunk"],
        replicas=replicas,
        prefill_replicas=prefill,
        decode_replicas=replicas - prefill if row["mode"] == "disaggregated" else 0,
        usd_per_chip_hour=row["usd_per_chip_hour"],
        usd_per_hour=final.usd_per_hour if final else row["usd_per_hour"],
        usd_per_mtok_output=final.usd_per_mtok_output if final else row["usd_per_mtok_output"],
        ttft_ms_p99=simulated.ttft_ms_p99 if simulated else row["ttft_ms_p99"],
        tpot_ms_p99=simulated.tpot_ms_p99 if simulated else row["tpot_ms_p99"],
        latency_source="simulated" if simulated else "screened",
        predicted_ttft_ms_p99=row["ttft_ms_p99"],
        predicted_tpot_ms_p99=row["tpot_ms_p99"],
        screened_replicas=int(row["replicas"]),
        screened_usd_per_hour=row["usd_per_hour"],
        headroom=row["capacity_rps_per_replica"] * (replicas - prefill) / load_rps - 1.0,
        bound=row["bound"],
        status=status,
        why_not=why_not,
        simulations=list(outcome.checks) if outcome is not None else [],
    )


def _figures(check: SimCheck) -> dict[str, Any]:
    return {
        "usd_per_hour": check.usd_per_hour,
        "usd_per_mtok_output": check.usd_per_mtok_output,
        "ttft_ms_p99": check.ttft_ms_p99,
        "tpot_ms_p99": check.tpot_ms_p99,
        "replicas": check.replicas,
    }


def _why_not(
    row: dict[str, Any], outcome: Verification | None, winner: PlanCandidate
) -> tuple[str, str]:
    """(status, why it lost to the winner)."""
    if outcome is None:
        more = row["usd_per_hour"] - winner.usd_per_hour
        return "not simulated", (
            f"not simulated: screened at ${row['usd_per_hour']:.2f}/hour "
            f"({more:+.2f}, {100 * more / winner.usd_per_hour:+.0f} %)"
        )
    final = outcome.final
    if not outcome.passed:
        return "failed", (
            f"failed in simulation with {final.replicas} replicas: {'; '.join(final.misses)}"
        )
    more = final.usd_per_hour - winner.usd_per_hour
    if more > 1e-9:
        return "passed", (
            f"costs ${more:.2f}/hour more (+{100 * more / winner.usd_per_hour:.0f} %) "
            f"for {final.replicas} replicas"
        )
    return "passed", (
        f"same $/hour; p99 TPOT {final.tpot_ms_p99:.1f} ms vs {winner.tpot_ms_p99:.1f} ms"
    )


def _result(
    request: PlanRequest,
    space: Space,
    load: Load,
    table: Columns,
    ranked: list[dict[str, Any]],
    verified: dict[int, Verification],
    exhaustive: bool,
    tasks: list[Any],
) -> PlanResult:
    best_i = _cheapest_passing(verified, ranked)
    assert best_i is not None
    winner = _candidate(1, ranked[best_i], load.rate_rps, verified[best_i], "winner", "")

    def order(i: int) -> tuple[int, float, int]:
        v = verified.get(i)
        if v is None:
            return (1, ranked[i]["usd_per_hour"], i)
        if v.passed:
            return (0, v.final.usd_per_hour, i)
        return (2, ranked[i]["usd_per_hour"], i)

    unverified = [i for i in range(len(ranked)) if i not in verified][:SHOWN_UNVERIFIED]
    others = sorted((i for i in [*verified, *unverified] if i != best_i), key=order)
    candidates = [winner]
    for i in others:
        status, why = _why_not(ranked[i], verified.get(i), winner)
        candidates.append(
            _candidate(len(candidates) + 1, ranked[i], load.rate_rps, verified.get(i), status, why)
        )
    runner_up = candidates[1] if len(candidates) > 1 else None

    base_task = next(t for t in tasks if (t.weights, t.kv) == (winner.weights, winner.kv))
    speed = np.array([1.0 / r["tpot_ms_p99"] for r in ranked])
    cost = np.array([r["usd_per_hour"] for r in ranked])
    front = pareto_mask(speed, cost)
    pareto = [
        ParetoPoint(
            hardware=r["hardware"],
            deployment=describe(r),
            usd_per_hour=r["usd_per_hour"],
            usd_per_mtok_output=r["usd_per_mtok_output"],
            ttft_ms_p99=r["ttft_ms_p99"],
            tpot_ms_p99=r["tpot_ms_p99"],
            pareto=bool(front[i]),
            winner=i == best_i,
            simulated=i in verified,
        )
        for i, r in enumerate(ranked)
    ]
    return PlanResult(
        name=request.name,
        model=space.model.id,
        targets=load.targets(),
        percentile=load.percentile,
        load_rps=load.rate_rps,
        isl_mean=load.isl_mean,
        osl_mean=load.osl_mean,
        best=winner,
        runner_up=runner_up,
        runner_up_lost=runner_up.why_not if runner_up else "no other deployment meets the SLO",
        candidates=candidates,
        launch=launch_config(
            ranked[best_i],
            model_id=space.model.id,
            served=request.served_model,
            memory_utilization=space.memory_utilization,
            prefill_replicas=winner.prefill_replicas,
            decode_replicas=winner.replicas - winner.prefill_replicas,
        ),
        whatifs=whatifs(
            ranked,
            ranked[best_i],
            base_task,
            space.model.native_weights,
            {key_of(ranked[i]): _figures(v.final) for i, v in verified.items() if v.passed},
            {
                key_of(ranked[i]): f"failed in simulation with {v.final.replicas} replicas: "
                + "; ".join(v.final.misses)
                for i, v in verified.items()
                if not v.passed
            },
        ),
        pareto=pareto,
        points_screened=len(table["feasible"]),
        points_feasible=int(np.sum(table["feasible"])),
        deployments_feasible=len(ranked),
        simulations=sum(len(v.checks) for v in verified.values()),
        exhaustive=exhaustive,
        skipped_hardware=list(space.skipped),
        price_sources={
            p.hardware.id: f"${p.usd_per_chip_hour:g}/chip-hour, {p.price_source}"
            + (f" ({p.price_as_of})" if p.price_as_of else "")
            for p in space.hardware
        },
    )


__all__ = [
    "InfeasibleError",
    "LaunchConfig",
    "ParetoPoint",
    "Plan",
    "PlanCandidate",
    "PlanRequest",
    "PlanResult",
    "SimCheck",
    "WhatIf",
    "load_plan",
    "plan",
]
