"""The simulator: invariants, agreement with the analytical steady state, known serving effects."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infercost import catalog
from infercost.errors import InfercostError
from infercost.perf.efficiency import shipped_profile
from infercost.perf.resources import Layout, resources_for
from infercost.perf.steady import continuous
from infercost.sim.scenario import load_scenario
from infercost.simulation import Simulation, simulate
from infercost.specs.parallelism import Parallelism

MODEL = "llama-3.1-8b"


def scenario(
    workload: dict[str, Any], scheduler: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "model": MODEL,
        "deployment": {"hardware": "h100-sxm", "engine": "vllm"},
        "scheduler": {"max_num_seqs": 64, "max_num_batched_tokens": 4096, **(scheduler or {})},
        "workload": workload,
        **extra,
    }


def fixed(tokens: int) -> dict[str, Any]:
    return {"kind": "fixed", "tokens": tokens}


def poisson(rate: float, n: int, prompt: Any, output: Any, **cls: Any) -> dict[str, Any]:
    return {
        "arrival": {"kind": "poisson", "rate_rps": rate},
        "requests": n,
        "classes": [{"prompt": prompt, "output": output, **cls}],
    }


# --- invariants -------------------------------------------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    batching = draw(st.sampled_from(["continuous", "continuous", "static", "dynamic"]))
    scheduler = {
        "batching": batching,
        "max_num_seqs": draw(st.integers(1, 48)),
        "max_num_batched_tokens": 4096,
        "chunked_prefill": draw(st.booleans()),
        "policy": draw(st.sampled_from(["decode-first", "prefill-first"])),
        "prefix_caching": draw(st.booleans()),
        # a small KV cache (a few thousand tokens) forces preemptions
        "memory_utilization": draw(st.sampled_from([0.26, 0.3, 0.9])),
        "preemption": draw(st.sampled_from(["recompute", "swap"])),
        "swap_gbps": 25.0,
        "batch_size": draw(st.integers(1, 8)),
        "max_wait_ms": draw(st.sampled_from([None, 20.0])) if batching == "static" else 20.0,
    }
    workload = poisson(
        draw(st.floats(1.0, 60.0)),
        draw(st.integers(1, 60)),
        {"kind": "uniform", "low": 1, "high": draw(st.integers(1, 3000))},
        {"kind": "uniform", "low": 1, "high": draw(st.integers(1, 600))},
        system_prompt={"key": "sys", "tokens": draw(st.integers(1, 400))},
    )
    workload["seed"] = draw(st.integers(0, 1000))
    return scenario(workload, scheduler)


def check_invariants(sim: Simulation) -> None:
    reqs = sim.result.requests
    ids = [r.spec.id for r in reqs]
    assert len(ids) == len(set(ids)), "a request was served twice"
    for r in reqs:
        # exactly one outcome: finished, or rejected with a reason
        assert (r.finish_s is None) != (r.rejected is None)
        if r.finish_s is not None:
            assert r.generated == r.spec.output_tokens
            assert r.first_token_s is not None and r.arrival_s <= r.first_token_s <= r.finish_s
    done = [r for r in reqs if r.finish_s is not None]
    steps = sim.result.steps
    # tokens conserved: every output token is emitted by exactly one step
    assert sum(steps.tokens_out) == sum(r.spec.output_tokens for r in done)
    # the KV cache never holds more blocks than it has
    assert max(steps.kv_occupancy, default=0.0) <= 1.0 + 1e-9
    for replica in sim.result.replicas:
        assert replica.kv.used <= replica.kv.capacity + 1e-6
        assert replica.kv.used + replica.kv.cached <= replica.kv.capacity + 1e-6
    # no request gets its first token before its own prefill could have run alone
    table = sim.result.replicas[0].table
    for r in done:
        if r.preemptions:
            continue
        alone = table.cost(0, 0, r.spec.prompt_tokens - r.cached_tokens, 1, r.cached_tokens).seconds
        assert r.first_token_s is not None
        assert r.first_token_s - r.arrival_s >= alone * 0.99


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_invariants_hold_for_any_scheduler_and_load(spec: dict[str, Any]) -> None:
    check_invariants(simulate(spec))


def test_same_seed_same_result_and_other_seed_differs() -> None:
    spec = scenario(
        poisson(30.0, 300, {"kind": "lognormal", "median": 500, "sigma": 1.0}, fixed(100))
    )
    a, b = simulate(spec), simulate(spec)
    assert a.summary == b.summary
    for key, col in a.requests().items():
        np.testing.assert_array_equal(col, b.requests()[key])
    assert simulate(spec, seed=99).summary != a.summary


def test_preemption_happens_when_kv_runs_out_and_invariants_still_hold() -> None:
    spec = scenario(
        poisson(200.0, 200, fixed(1000), fixed(800)),
        {"memory_utilization": 0.26, "max_num_seqs": 64},
    )
    sim = simulate(spec)
    assert sim.summary["preemptions"] > 0
    assert sim.summary["completed"] == 200
    check_invariants(sim)


# --- agreement with the analytical steady state -----------------------------------------------


@pytest.mark.parametrize(
    ("model", "tp", "pp", "concurrency", "isl", "osl"),
    [
        ("llama-3.1-8b", 1, 1, 32, 1024, 256),
        ("llama-3.1-8b", 1, 1, 128, 512, 512),
        ("llama-3.1-70b", 4, 1, 64, 2048, 256),
        ("qwen3-30b-a3b", 1, 1, 64, 1000, 300),
        ("llama-3.1-70b", 2, 2, 64, 2048, 256),  # pipeline: a step is one micro-batch's time
    ],
)
def test_closed_loop_steady_throughput_matches_the_analytical_model(
    model: str, tp: int, pp: int, concurrency: int, isl: int, osl: int
) -> None:
    spec = {
        "model": model,
        "deployment": {"hardware": "h100-sxm", "tp": tp, "pp": pp, "engine": "vllm"},
        "scheduler": {"max_num_seqs": 256, "max_num_batched_tokens": 8192, "prefix_caching": False},
        "workload": {
            "arrival": {"kind": "closed", "concurrency": concurrency},
            "requests": concurrency * 40,
            # output lengths vary around osl so the clients do not move in lockstep
            "classes": [
                {
                    "prompt": fixed(isl),
                    "output": {"kind": "uniform", "low": osl // 2, "high": osl * 3 // 2},
                }
            ],
        },
    }
    sim = simulate(spec)
    m, hw = catalog.model(model), catalog.hardware("h100-sxm")
    res = resources_for(
        hw, catalog.precision(m.native_weights), shipped_profile().resolve(hw.family, "vllm")
    )
    steady = continuous(
        m,
        res,
        Layout.of(Parallelism(tp=tp, pp=pp)),
        concurrency=concurrency,
        isl=isl,
        osl=osl,
        budget=8192,
    )
    assert sim.summary["steady_output_tps"] == pytest.approx(float(steady.output_tps), rel=0.05)


# --- known effects ----------------------------------------------------------------------------


def test_continuous_batching_beats_static_batching() -> None:
    workload = poisson(
        6.0,
        400,
        {"kind": "uniform", "low": 100, "high": 1500},
        {"kind": "uniform", "low": 20, "high": 600},
    )
    cont = simulate(scenario(workload, {"batching": "continuous", "max_num_seqs": 16}))
    static = simulate(
        scenario(workload, {"batching": "static", "batch_size": 16, "max_wait_ms": 200})
    )
    assert cont.summary["steady_output_tps"] > static.summary["steady_output_tps"]
    assert cont.summary["ttft_ms_p99"] < static.summary["ttft_ms_p99"]


def test_prefix_caching_raises_throughput_on_a_shared_prefix() -> None:
    workload = {
        "arrival": {"kind": "closed", "concurrency": 32},
        "requests": 600,
        "classes": [
            {
                "prompt": {"kind": "uniform", "low": 50, "high": 150},
                "output": {"kind": "uniform", "low": 32, "high": 96},
                "system_prompt": {"key": "agent-instructions", "tokens": 3000},
            }
        ],
    }
    on = simulate(scenario(workload, {"prefix_caching": True}))
    off = simulate(scenario(workload, {"prefix_caching": False}))
    assert on.summary["prefix_hit_rate"] > 0.8
    assert off.summary["prefix_hit_rate"] == 0.0
    assert on.summary["output_tps"] > 1.5 * off.summary["output_tps"]


def test_chunked_prefill_lowers_p99_itl_when_long_prompts_arrive() -> None:
    workload = {
        "arrival": {"kind": "poisson", "rate_rps": 8.0},
        "requests": 400,
        "classes": [
            {"name": "chat", "weight": 9, "prompt": fixed(200), "output": fixed(300)},
            {"name": "document", "weight": 1, "prompt": fixed(16000), "output": fixed(50)},
        ],
    }
    chunked = simulate(
        scenario(workload, {"chunked_prefill": True, "max_num_batched_tokens": 1024})
    )
    whole = simulate(
        scenario(
            workload,
            {"chunked_prefill": False, "policy": "prefill-first", "max_num_batched_tokens": 16384},
        )
    )
    assert chunked.summary["itl_ms_p99"] < whole.summary["itl_ms_p99"]


# --- clusters and sessions --------------------------------------------------------------------


def test_more_replicas_cut_queueing_and_routers_all_serve_everything() -> None:
    workload = poisson(40.0, 400, fixed(800), fixed(200))
    one = simulate(scenario(workload))
    for router in ("round-robin", "least-outstanding", "least-kv", "affinity"):
        two = simulate(scenario(workload, cluster={"replicas": 2, "router": router}))
        assert two.summary["completed"] == 400
        assert two.summary["ttft_ms_p99"] < one.summary["ttft_ms_p99"]
        check_invariants(two)


def test_disaggregated_pools_hand_off_kv_and_finish_every_request() -> None:
    spec = scenario(
        poisson(10.0, 200, fixed(2000), fixed(200)),
        cluster={
            "groups": [{"count": 1, "role": "prefill"}, {"count": 2, "role": "decode"}],
            "transfer_gbps": 50,
        },
    )
    sim = simulate(spec)
    assert sim.summary["completed"] == 200
    check_invariants(sim)
    prefill = sim.result.replicas[0]
    assert prefill.role == "prefill"
    assert all(r.replica != 0 for r in sim.result.requests)  # every request decoded elsewhere


def test_agent_sessions_reuse_earlier_turns_from_the_prefix_cache() -> None:
    workload = {
        "arrival": {"kind": "poisson", "rate_rps": 1.0},
        "requests": 120,
        "classes": [
            {
                "system_prompt": {"key": "tools", "tokens": 1500},
                "session": {
                    "turns": fixed(5),
                    "user_tokens": fixed(100),
                    "tool_output_tokens": fixed(400),
                    "output": fixed(150),
                    "think_s": 2.0,
                },
            }
        ],
    }
    sim = simulate(scenario(workload))
    check_invariants(sim)
    assert sim.summary["completed"] == 120
    assert sim.summary["prefix_hit_rate"] > 0.6
    turns = {}
    for r in sim.result.requests:
        turns.setdefault(r.spec.session, []).append(r)
    for session in turns.values():
        for before, after in itertools.pairwise(session):
            assert before.finish_s is not None
            assert after.arrival_s >= before.finish_s + 2.0 - 1e-9


# --- bad input --------------------------------------------------------------------------------


def test_bad_scenarios_are_one_line_errors() -> None:
    good = scenario(poisson(1.0, 10, fixed(10), fixed(10)))
    for path, value in (
        (("scheduler", "max_num_seqs"), 0),
        (("cluster", "router"), "random"),
        (("deployment", "hardware"), "h900"),
    ):
        bad = {**good, path[0]: {**good.get(path[0], {}), path[1]: value}}
        with pytest.raises(InfercostError) as err:
            simulate(bad)
        assert "\n" not in str(err.value)
    with pytest.raises(InfercostError, match="swap_gbps"):
        load_scenario(scenario(poisson(1.0, 10, fixed(10), fixed(10)), {"preemption": "swap"}))


def test_a_model_that_does_not_fit_is_an_error_with_the_numbers() -> None:
    spec = scenario(poisson(1.0, 10, fixed(10), fixed(10)))
    spec["model"] = "llama-3.1-70b"
    with pytest.raises(InfercostError, match="GB"):
        simulate(spec)


def test_requests_too_long_for_the_cache_are_rejected_with_a_reason() -> None:
    sim = simulate(
        scenario(poisson(1.0, 5, fixed(200_000), fixed(10)), {"memory_utilization": 0.3})
    )
    assert sim.summary["rejected"] == 5
    assert all("KV blocks" in (r.rejected or "") for r in sim.result.requests)


def test_heterogeneous_replicas_each_use_their_own_hardware() -> None:
    spec = scenario(
        poisson(30.0, 300, fixed(1000), fixed(200)),
        cluster={
            "router": "least-outstanding",
            "groups": [
                {"count": 1, "deployment": {"hardware": "h100-sxm"}},
                {"count": 1, "deployment": {"hardware": "h200"}},
            ],
        },
    )
    sim = simulate(spec)
    check_invariants(sim)
    h100, h200 = sim.result.replicas
    assert h200.kv.capacity > h100.kv.capacity  # 141 GB vs 80 GB of HBM
    assert h200.table.cost(32, 2000).seconds < h100.table.cost(32, 2000).seconds
    served = [sum(r.replica == i for r in sim.result.requests) for i in (0, 1)]
    assert served[1] >= served[0]  # the faster replica drains sooner and takes more
