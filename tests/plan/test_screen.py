"""Screening: sizing by hand, invariants over loads and targets, infeasible messages."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost import catalog
from infercost.perf.efficiency import shipped_profile
from infercost.perf.resources import Layout, resources_for
from infercost.perf.steady import continuous
from infercost.plan.screen import (
    InfeasibleError,
    ScreenTask,
    concurrency_grid,
    infeasible,
    load_profile,
    rank,
    screen_task,
)
from infercost.plan.space import build_space, load_plan
from infercost.specs.parallelism import Parallelism

PRICE = 2.0


def request(
    rate: float = 20.0, ttft_ms: float | None = 1e6, tpot_ms: float = 1e6, **search: Any
) -> Any:
    slo = {"ttft_ms": ttft_ms, "tpot_ms": tpot_ms}
    return load_plan(
        {
            "model": "llama-3.1-8b",
            "slo": {k: v for k, v in slo.items() if v is not None},
            "workload": {
                "seed": 3,
                "duration_s": 60,
                "arrival": {"kind": "poisson", "rate_rps": rate},
                "classes": [{"prompt": 1000, "output": 200}],
            },
            "search": {
                "hardware": ["h100-sxm"],
                "prices": {"h100-sxm": PRICE},
                "weights": ["fp8"],
                "kv": ["fp8"],
                "chips_per_replica": [1],
                "max_num_seqs": [128],
                "chunk": [8192],
                "modes": ["aggregated"],
                **search,
            },
        }
    )


def task_for(req: Any, headroom: float = 0.1, efficiency: Any = None) -> ScreenTask:
    space = build_space(req, efficiency=efficiency)
    return ScreenTask(
        model=space.model,
        hardware=space.hardware,
        layouts=space.layouts,
        weights="fp8",
        kv="fp8",
        max_num_seqs=space.max_num_seqs,
        chunks=space.chunks,
        modes=space.modes,
        engine=space.engine,
        memory_utilization=space.memory_utilization,
        load=load_profile(req),
        headroom=headroom,
        max_replicas=512,
        efficiency=space.efficiency,
    )


def one_row(table: dict[str, np.ndarray[Any, Any]]) -> dict[str, Any]:
    assert len(table["hardware"]) == 1
    return {k: v[0].item() if isinstance(v[0], np.generic) else v[0] for k, v in table.items()}


def test_load_profile_of_fixed_lengths_by_hand() -> None:
    load = load_profile(request(rate=10.0))
    assert load.rate_rps == 10.0 and load.cv == 1.0
    assert (load.isl_mean, load.osl_mean, load.isl_q, load.osl_q) == (1000, 200, 1000, 200)
    assert load.held_tokens == 1000 + 200 / 2  # every request holds its prompt + half its output
    assert load.longest_tokens == 1200
    # p99 of Z / sqrt(199) for standard normal Z: 2.326 / 14.1
    assert load.tpot_tail == pytest.approx(NormalDist().inv_cdf(0.99) / math.sqrt(199), rel=0.02)


def test_slot_limited_capacity_and_replicas_by_hand() -> None:
    # with no latency target binding, a replica takes the largest grid concurrency B whose p99
    # (B + z·sqrt(B), sequences in flight being Poisson) fits max_num_seqs = 128
    req = request(rate=20.0)
    task = task_for(req)
    row = one_row(screen_task(task))
    z = NormalDist().inv_cdf(0.99)
    b = max(g for g in concurrency_grid(128) if g + z * math.sqrt(g) <= 128)
    hw = catalog.hardware("h100-sxm")
    res = resources_for(
        hw, catalog.precision("fp8", "fp8"), shipped_profile().resolve("hopper", "vllm")
    )
    run = continuous(
        task.model, res, Layout.of(Parallelism()), concurrency=b, isl=1000, osl=200, budget=8192
    )
    cap = b / (float(run.tpot_s) * 200)
    assert row["bound"] == "max_num_seqs"
    assert row["capacity_rps_per_replica"] == pytest.approx(cap)
    assert row["replicas"] == math.ceil(20.0 * 1.1 / cap)
    assert row["usd_per_hour"] == pytest.approx(row["replicas"] * PRICE)
    tokens_per_hour = 20.0 * 200 * 3600
    assert row["usd_per_mtok_output"] == pytest.approx(row["usd_per_hour"] / tokens_per_hour * 1e6)
    assert row["headroom"] == pytest.approx(row["replicas"] * cap / 20.0 - 1.0)


def test_a_tight_tpot_target_binds_and_is_met_at_the_load() -> None:
    loose = one_row(screen_task(task_for(request(rate=20.0))))
    tight = one_row(screen_task(task_for(request(rate=20.0, tpot_ms=loose["tpot_ms_p99"] * 0.9))))
    assert tight["feasible"] and tight["bound"] == "tpot"
    assert tight["tpot_ms_p99"] <= loose["tpot_ms_p99"] * 0.9 + 1e-9
    assert tight["replicas"] > loose["replicas"]


@settings(max_examples=12, deadline=None)
@given(rate=st.floats(1.0, 200.0), more=st.floats(1.0, 4.0))
def test_more_load_never_needs_fewer_replicas(rate: float, more: float) -> None:
    low = one_row(screen_task(task_for(request(rate=rate))))
    high = one_row(screen_task(task_for(request(rate=rate * more))))
    assert high["replicas"] >= low["replicas"]
    assert high["usd_per_hour"] >= low["usd_per_hour"]


@settings(max_examples=10, deadline=None)
@given(tpot=st.floats(8.0, 60.0), ttft=st.floats(300.0, 3000.0), headroom=st.floats(0.0, 0.5))
def test_every_feasible_point_meets_the_targets_with_the_headroom(
    tpot: float, ttft: float, headroom: float
) -> None:
    req = request(rate=30.0, ttft_ms=ttft, tpot_ms=tpot, chips_per_replica=[1, 2, 4])
    table = screen_task(task_for(req, headroom))
    ok = table["feasible"]
    assert np.all(table["tpot_ms_p99"][ok] <= tpot + 1e-9)
    assert np.all(table["ttft_ms_p99"][ok] <= ttft + 1e-9)
    assert np.all(table["headroom"][ok] >= headroom - 1e-9)
    assert np.all(table["replicas"][~ok] == 0) or np.all(np.isnan(table["usd_per_hour"][~ok]))


def test_tighter_targets_never_make_the_best_cheaper() -> None:
    costs = []
    for tpot in (60.0, 30.0, 15.0):
        ranked = rank(
            screen_task(task_for(request(rate=30.0, tpot_ms=tpot, chips_per_replica=[1, 2])))
        )
        costs.append(ranked[0]["usd_per_hour"])
    assert costs == sorted(costs)


def test_rank_keeps_one_row_per_deployment_cheapest_first() -> None:
    req = request(rate=30.0, tpot_ms=40.0, max_num_seqs=[64, 128, 256], chunk=[2048, 8192])
    ranked = rank(screen_task(task_for(req)))
    keys = [(r["hardware"], r["chips_per_replica"], r["tp"], r["pp"]) for r in ranked]
    assert len(keys) == len(set(keys)) == 1
    table = screen_task(task_for(req))
    assert ranked[0]["usd_per_hour"] == np.nanmin(table["usd_per_hour"])


def test_disaggregated_pools_are_both_sized() -> None:
    req = request(rate=30.0, ttft_ms=1000.0, tpot_ms=30.0, modes=["disaggregated"])
    row = rank(screen_task(task_for(req)))[0]
    assert row["mode"] == "disaggregated"
    assert row["prefill_replicas"] >= 1 and row["decode_replicas"] >= 1
    assert row["replicas"] == row["prefill_replicas"] + row["decode_replicas"]
    assert row["ttft_ms_p99"] <= 1000.0 and row["tpot_ms_p99"] <= 30.0


def test_infeasible_names_the_closest_candidate_and_the_missed_target() -> None:
    req = request(rate=5.0, ttft_ms=None, tpot_ms=1.0, chips_per_replica=[1, 2, 4, 8])
    task = task_for(req)
    table = screen_task(task)
    assert not table["feasible"].any()
    err = infeasible(table, task.load, build_space(req))
    assert isinstance(err, InfeasibleError)
    message = str(err)
    assert message.startswith("infeasible: nothing meets p99 TPOT ≤ 1 ms")
    assert "closest: " in message and "h100-sxm" in message and "TPOT" in message
    # the closest is the fastest: its TPOT is the smallest any point reaches
    reached = float(message.split("TPOT ")[-1].split(" ms")[0])
    assert reached == pytest.approx(np.nanmin(table["closest_tpot_ms"]), abs=0.05)
    assert "\n" not in message


def test_infeasible_when_the_longest_request_fits_nowhere() -> None:
    req = load_plan(
        {
            "model": "llama-3.1-70b",
            "slo": {"tpot_ms": 100},
            "workload": {
                "duration_s": 10,
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "classes": [{"prompt": 100000, "output": 100}],
            },
            "search": {"hardware": ["a10"], "chips_per_replica": [1, 2]},
        }
    )
    task = task_for(req)
    table = screen_task(task)
    message = str(infeasible(table, task.load, build_space(req)))
    assert "fits no searched deployment" in message and "100100 tokens" in message


def test_pooled_wait_is_m_m_1_for_one_server_and_erlang_c_beyond() -> None:
    from infercost.plan.screen import _pooled_wait

    # one server, ρ = 0.5, S = 0.1 s: P(W > t) = ρ·exp(−(1 − ρ)t/S) → t99 = S·ln(50)/0.5
    one = float(_pooled_wait(np.array(1.0), np.array(0.5), np.array(0.1), 5.0, 0.99))
    assert one == pytest.approx(0.1 * math.log(50) / 0.5)

    def by_recursion(c: int, lam: float, s: float) -> float:
        a, b = lam * s, 1.0
        for n in range(1, c + 1):  # Erlang B recursion
            b = a * b / (n + a * b)
        waits = c * b / (c - a * (1 - b))
        return math.log(waits / 0.01) / (c / s - lam) if waits > 0.01 else 0.0

    for c, lam, s in ((6, 50.0, 0.1), (40, 300.0, 0.12), (200, 1500.0, 0.12)):
        got = float(_pooled_wait(np.array(float(c)), np.array(lam * s), np.array(s), lam, 0.99))
        assert got == pytest.approx(by_recursion(c, lam, s), rel=1e-9)
    # overloaded: the queue never drains
    assert _pooled_wait(np.array(2.0), np.array(3.0), np.array(0.1), 30.0, 0.99) == np.inf


def test_a_calibrated_profile_replaces_the_shipped_efficiency() -> None:
    """`plan --calibration`: a deployment that reaches half the shipped bandwidth decodes slower,
    so the same TPOT target is met at a lower capacity per replica."""
    shipped = shipped_profile()
    hopper = {**shipped.families.get("hopper", {})}
    hopper["memory"] = hopper.get("memory", shipped.default.memory) / 2
    slow = shipped.model_copy(update={"families": {**shipped.families, "hopper": hopper}})
    req = request(rate=20.0, tpot_ms=12)
    fast_row = one_row(screen_task(task_for(req)))
    slow_row = one_row(screen_task(task_for(req, efficiency=slow)))
    assert build_space(req, efficiency=slow).efficiency is slow
    assert slow_row["capacity_rps_per_replica"] < fast_row["capacity_rps_per_replica"]
    assert slow_row["closest_tpot_ms"] > fast_row["closest_tpot_ms"]
