"""Workload specs and the lazy request generator."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost.errors import InfercostError
from infercost.sim.request import RequestSpec
from infercost.sim.workload import (
    CurveArrival,
    EmpiricalLength,
    LognormalLength,
    UniformLength,
    WorkloadSpec,
    generate,
    load_workload,
    read_token_counts,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAMPLES = EXAMPLES / "traces"

CHAT = {"prompt": 100, "output": 20}


def workload(arrival: dict[str, Any], **extra: Any) -> WorkloadSpec:
    data: dict[str, Any] = {"arrival": arrival, "classes": [CHAT], "requests": 20_000}
    data.update(extra)
    return load_workload(data)


def times(spec: WorkloadSpec, **kwargs: Any) -> np.ndarray:
    return np.array([r.arrival_s for r in generate(spec, **kwargs)])


# --- determinism and laziness -----------------------------------------------------------------


def test_same_seed_same_stream_other_seed_differs() -> None:
    spec = load_workload(
        {
            "arrival": {"kind": "gamma", "rate_rps": 5, "cv": 2},
            "requests": 3000,
            "classes": [
                {
                    "name": "a",
                    "prompt": {"kind": "lognormal", "median": 500, "sigma": 1},
                    "output": 50,
                },
                {
                    "name": "b",
                    "session": {
                        "turns": {"kind": "uniform", "low": 1, "high": 5},
                        "user_tokens": 30,
                        "output": 40,
                    },
                },
            ],
        }
    )
    first = list(generate(spec))
    assert first == list(generate(spec))
    assert first == list(generate(spec, seed=spec.seed))
    assert first != list(generate(spec, seed=spec.seed + 1))
    assert [r.id for r in first] == list(range(3000))


def test_lengths_change_leaves_arrivals_alone() -> None:
    """Separate random streams: other lengths, same arrival times (common random numbers)."""
    a = workload({"kind": "poisson", "rate_rps": 3})
    b = load_workload(
        {
            "arrival": {"kind": "poisson", "rate_rps": 3},
            "requests": 20_000,
            "classes": [{"prompt": {"kind": "lognormal", "median": 9, "sigma": 2}, "output": 1}],
        }
    )
    assert np.array_equal(times(a), times(b))


@pytest.mark.parametrize(
    "cls",
    [
        CHAT,
        {"prompt": {"kind": "lognormal", "median": 500, "sigma": 1}, "output": 50},
        {"session": {"turns": 4, "user_tokens": 30, "output": 40}},
    ],
)
def test_generation_is_lazy(cls: dict[str, Any]) -> None:
    spec = load_workload(
        {"arrival": {"kind": "poisson", "rate_rps": 100}, "classes": [cls], "requests": 10**9}
    )
    start = time.perf_counter()
    first = list(itertools.islice(generate(spec), 10))
    assert [r.id for r in first] == list(range(10))
    assert time.perf_counter() - start < 5  # generous: only one block may be drawn


# --- arrivals ---------------------------------------------------------------------------------


def test_poisson_mean_gap() -> None:
    t = times(workload({"kind": "poisson", "rate_rps": 4.0}))
    gaps = np.diff(np.concatenate(([0.0], t)))
    assert len(gaps) == 20_000
    assert gaps.mean() == pytest.approx(0.25, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("cv", [0.5, 2.0, 4.0])
def test_gamma_cv(cv: float) -> None:
    t = times(workload({"kind": "gamma", "rate_rps": 10.0, "cv": cv}, requests=40_000))
    gaps = np.diff(np.concatenate(([0.0], t)))
    assert gaps.mean() == pytest.approx(0.1, rel=0.06)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.1)


def test_constant_spacing() -> None:
    t = times(workload({"kind": "constant", "rate_rps": 8.0}, requests=10_000))
    assert t[0] == 0.0
    assert np.allclose(np.diff(t), 0.125, rtol=0, atol=1e-9)
    assert t[-1] == pytest.approx(9999 / 8)


def test_curve_more_arrivals_in_busy_hours() -> None:
    # one day in 2400 s; busy 12:00-18:00 (10 rps), quiet at night (1 rps), ramps in between
    arrival = {
        "kind": "curve",
        "points": [[0, 1], [6, 1], [12, 10], [18, 10], [23, 1]],
        "period_s": 2400,
    }
    spec = workload(arrival, requests=None, duration_s=2400)
    t = times(spec)
    hour = t / 100
    night = np.sum(hour < 6)  # 6 h at 1 rps = 600 expected
    busy = np.sum((hour >= 12) & (hour < 18))  # 6 h at 10 rps = 6000 expected
    assert night == pytest.approx(600, rel=0.15)
    assert busy == pytest.approx(6000, rel=0.05)
    curve = spec.arrival
    assert isinstance(curve, CurveArrival)
    assert len(t) == pytest.approx(curve.mean_rps * 2400, rel=0.05)
    assert np.all(np.diff(t) >= 0)


def test_curve_start_hour_and_wrap() -> None:
    curve = CurveArrival(points=((0, 1.0), (12, 5.0)), start_hour=12)
    assert curve.rate_at(np.array([0.0]))[0] == pytest.approx(5.0)
    # wraps from the last point (12 h, 5) back to the first (24 h, 1)
    assert curve.rate_at(np.array([6 * 3600.0]))[0] == pytest.approx(3.0)


def test_duration_cuts_first_turns() -> None:
    t = times(workload({"kind": "poisson", "rate_rps": 50}, requests=None, duration_s=10))
    assert t.max() <= 10
    assert len(t) == pytest.approx(500, rel=0.2)


def test_duration_finishes_started_sessions() -> None:
    session = {"turns": 5, "user_tokens": 10, "output": 10, "think_s": 4}
    spec = load_workload(
        {
            "arrival": {"kind": "constant", "rate_rps": 1},
            "classes": [{"session": session}],
            "duration_s": 9.5,
        }
    )
    reqs = list(generate(spec))
    firsts = [r.arrival_s for r in reqs if r.turn == 0]
    assert firsts == [float(i) for i in range(10)]  # 0 .. 9, the first after 9.5 ends the stream
    assert len(reqs) == 50  # every started session keeps its five turns
    assert max(r.arrival_s for r in reqs) == pytest.approx(9 + 4 * 4)


def test_requests_and_duration_whichever_first() -> None:
    spec = workload({"kind": "constant", "rate_rps": 10}, requests=30, duration_s=100)
    assert len(times(spec)) == 30
    spec = workload({"kind": "constant", "rate_rps": 10}, requests=3000, duration_s=10)
    assert len(times(spec)) == 101  # 0, 0.1, ..., 10.0


def test_closed_loop_spec() -> None:
    spec = load_workload(
        {
            "arrival": {"kind": "closed", "concurrency": 16, "think_s": 0.5},
            "classes": [CHAT],
            "duration_s": 60,
        }
    )
    assert spec.concurrency == 16 and spec.closed_think_s == 0.5
    first = list(itertools.islice(generate(spec), 100))
    assert all(r.arrival_s == 0.0 for r in first)
    assert workload({"kind": "poisson", "rate_rps": 1}).concurrency is None


# --- lengths ----------------------------------------------------------------------------------


def test_lognormal_median_and_mean() -> None:
    rng = np.random.default_rng(1)
    x = LognormalLength(median=800, sigma=1.0).sample(rng, 50_000)
    assert np.median(x) == pytest.approx(800, rel=0.03)
    y = LognormalLength(mean=800, sigma=0.5).sample(rng, 50_000)
    assert y.mean() == pytest.approx(800, rel=0.03)
    z = LognormalLength(median=5, sigma=3, max=100).sample(rng, 10_000)
    assert z.min() >= 1 and z.max() <= 100
    assert z.dtype == np.int64


def test_uniform_bounds() -> None:
    x = UniformLength(low=10, high=20).sample(np.random.default_rng(2), 20_000)
    assert x.min() == 10 and x.max() == 20
    assert set(np.unique(x).tolist()) == set(range(10, 21))


def test_empirical_from_files(tmp_path: Path) -> None:
    (tmp_path / "counts.txt").write_text("# output tokens\n5\n0\n\n7\n")
    (tmp_path / "lengths.csv").write_text("prompt,output\n100,3\n200,4\n")
    rng = np.random.default_rng(3)
    x = EmpiricalLength(path=tmp_path / "counts.txt").sample(rng, 3000)
    assert set(np.unique(x).tolist()) == {1, 5, 7}  # 0 is clipped to 1
    y = EmpiricalLength(path=Path("lengths.csv"), column="prompt").sampler(tmp_path)(rng, 1000)
    assert set(np.unique(y).tolist()) == {100, 200}
    spec = load_workload(
        {
            "arrival": {"kind": "poisson", "rate_rps": 1},
            "requests": 500,
            "classes": [
                {
                    "prompt": {"kind": "empirical", "path": "lengths.csv", "column": "prompt"},
                    "output": {"kind": "empirical", "path": "counts.txt"},
                }
            ],
        },
        base_dir=tmp_path,
    )
    reqs = list(generate(spec))  # paths resolved at load time, any working directory
    assert {r.prompt_tokens for r in reqs} == {100, 200}
    assert {r.output_tokens for r in reqs} == {1, 5, 7}


def test_token_count_file_checks(tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_text("tokens\n12\n30.4\n", encoding="utf-8-sig")
    assert read_token_counts(bom).tolist() == [12, 30]
    huge = tmp_path / "huge.txt"
    huge.write_text("5\n6\n1e30\n")
    with pytest.raises(InfercostError, match=r"huge\.txt:3"):
        read_token_counts(huge)
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b\n1,2\n")
    with pytest.raises(InfercostError, match="name one"):
        read_token_counts(wide)
    assert read_token_counts(wide, "b").tolist() == [2]


def test_empirical_from_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "out.txt").write_text("42\n")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "name: demo\nworkload:\n  requests: 10\n  arrival: {kind: poisson, rate_rps: 1}\n"
        "  classes:\n    - {prompt: 9, output: {kind: empirical, path: data/out.txt}}\n"
    )
    assert {r.output_tokens for r in generate(load_workload(scenario))} == {42}


# --- classes ----------------------------------------------------------------------------------


def test_class_weights_and_system_prompt() -> None:
    spec = load_workload(
        {
            "arrival": {"kind": "poisson", "rate_rps": 10},
            "requests": 20_000,
            "classes": [
                {
                    "name": "chat",
                    "weight": 3,
                    "prompt": 100,
                    "output": 10,
                    "system_prompt": {"key": "sys", "tokens": 400},
                },
                {"name": "batch", "weight": 1, "prompt": 50, "output": 10, "slo": {"ttft_ms": 500}},
            ],
        }
    )
    reqs = list(generate(spec))
    chat = [r for r in reqs if r.request_class == "chat"]
    assert len(chat) / len(reqs) == pytest.approx(0.75, abs=0.015)
    assert all(r.prefix == (("sys", 400),) and r.prompt_tokens == 500 for r in chat)
    assert all(r.prefix == () and r.prompt_tokens == 50 for r in reqs if r.request_class == "batch")
    assert spec.slos["batch"].ttft_ms == 500 and spec.slos["batch"].percentile == 99
    assert "chat" not in spec.slos


def test_reasoning_share_adds_tokens() -> None:
    spec = load_workload(
        {
            "arrival": {"kind": "poisson", "rate_rps": 10},
            "requests": 10_000,
            "classes": [
                {
                    "prompt": 100,
                    "output": 200,
                    "reasoning": {
                        "share": 0.3,
                        "tokens": {"kind": "uniform", "low": 1000, "high": 5000},
                    },
                }
            ],
        }
    )
    out = np.array([r.output_tokens for r in generate(spec)])
    thinking = out > 200
    assert set(np.unique(out[~thinking]).tolist()) == {200}
    assert thinking.mean() == pytest.approx(0.3, abs=0.015)
    assert out[thinking].min() >= 1200 and out[thinking].max() <= 5200
    assert np.percentile(out, 99) > 10 * np.median(out)  # the heavy tail


# --- sessions ---------------------------------------------------------------------------------

AGENT = {
    "name": "agent",
    "system_prompt": {"key": "agent-sys", "tokens": 2000},
    "session": {
        "turns": {"kind": "uniform", "low": 1, "high": 8},
        "user_tokens": {"kind": "lognormal", "median": 60, "sigma": 0.5},
        "tool_output_tokens": {"kind": "lognormal", "median": 500, "sigma": 1},
        "output": {"kind": "lognormal", "median": 150, "sigma": 0.7},
        "think_s": {"kind": "exponential", "mean_s": 3},
    },
}


def _by_session(reqs: list[RequestSpec]) -> dict[int, list[RequestSpec]]:
    sessions: dict[int, list[RequestSpec]] = {}
    for r in reqs:
        if r.session is not None:
            sessions.setdefault(r.session, []).append(r)
    return sessions


def test_session_chains_consistent() -> None:
    spec = load_workload(
        {
            "arrival": {"kind": "poisson", "rate_rps": 2},
            "requests": 5000,
            "classes": [AGENT, {"name": "chat", **CHAT}],
        }
    )
    reqs = list(generate(spec))
    sessions = _by_session(reqs)
    assert len(sessions) > 100
    for sid, turns in sessions.items():
        ids = [r.id for r in turns]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # consecutive in the stream
        assert [r.turn for r in turns] == list(range(len(turns)))
        assert turns[0].think_s is None
        assert turns[0].prefix == (("agent-sys", 2000),)
        for k, (now, nxt) in enumerate(itertools.pairwise(turns)):
            assert now.publishes == f"s{sid}-t{k}"
            own = now.prompt_tokens - now.prefix_tokens + now.output_tokens
            assert nxt.prefix == (*now.prefix, (now.publishes, own))
            assert nxt.think_s is not None and nxt.think_s >= 0
            assert nxt.arrival_s == pytest.approx(now.arrival_s + nxt.think_s)
        for r in turns:
            assert r.prompt_tokens > r.prefix_tokens
            assert r.request_class == "agent"
    # first turns (and single requests) arrive in order
    firsts = [r.arrival_s for r in reqs if r.turn == 0]
    assert all(b >= a for a, b in itertools.pairwise(firsts))


def test_session_tool_output_after_first_turn() -> None:
    spec = load_workload(
        {
            "arrival": {"kind": "constant", "rate_rps": 1},
            "requests": 30,
            "classes": [
                {
                    "session": {
                        "turns": 3,
                        "user_tokens": 10,
                        "tool_output_tokens": 100,
                        "output": 5,
                        "think_s": 2,
                    }
                }
            ],
        }
    )
    reqs = list(generate(spec))
    assert [r.prompt_tokens for r in reqs[:3]] == [10, 10 + 5 + 110, 10 + 5 + 110 + 5 + 110]
    assert [r.think_s for r in reqs[:3]] == [None, 2.0, 2.0]
    assert [r.arrival_s for r in reqs[:4]] == [0.0, 2.0, 4.0, 1.0]
    assert len(reqs) == 30  # the request cap counts every turn


def test_session_max_context() -> None:
    spec = load_workload(
        {
            "arrival": {"kind": "poisson", "rate_rps": 1},
            "requests": 2000,
            "classes": [
                {
                    "session": {
                        "turns": 50,
                        "user_tokens": 100,
                        "output": 100,
                        "max_context_tokens": 1000,
                    }
                }
            ],
        }
    )
    reqs = list(generate(spec))
    assert max(r.prompt_tokens + r.output_tokens for r in reqs) <= 1000
    assert max(r.turn for r in reqs) == 4


# --- traces -----------------------------------------------------------------------------------


def test_trace_replay_lengths_and_scale() -> None:
    base = {"kind": "trace", "path": str(SAMPLES / "azure-sample.csv"), "format": "azure"}
    spec = load_workload({"arrival": base})
    reqs = list(generate(spec))
    assert len(reqs) == 200
    assert reqs[0].arrival_s == 0.0 and reqs[0].prompt_tokens == 3979
    faster = list(generate(load_workload({"arrival": {**base, "rate_scale": 2}})))
    assert [r.arrival_s for r in faster] == pytest.approx([r.arrival_s / 2 for r in reqs])
    slower = list(generate(load_workload({"arrival": {**base, "time_scale": 3}})))
    assert slower[-1].arrival_s == pytest.approx(reqs[-1].arrival_s * 3)


def test_example_trace_scenario_loads() -> None:
    """examples/simulate-trace.yaml replays the Azure sample at 4x speed."""
    spec = load_workload(EXAMPLES / "simulate-trace.yaml")
    reqs = list(generate(spec))
    plain = list(
        generate(
            load_workload(
                {
                    "arrival": {
                        "kind": "trace",
                        "path": str(SAMPLES / "azure-sample.csv"),
                        "format": "azure",
                    }
                }
            )
        )
    )
    assert len(reqs) == 200
    assert [r.arrival_s for r in reqs] == pytest.approx([r.arrival_s / 4 for r in plain])
    assert [r.prompt_tokens for r in reqs] == [r.prompt_tokens for r in plain]


def test_trace_without_requests_errors(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        "1,ChatGPT,5,0,5,API log\n"
    )
    spec = load_workload({"arrival": {"kind": "trace", "path": str(path), "format": "burstgpt"}})
    with pytest.raises(InfercostError, match=r"^workload\.arrival\.path: .*holds no requests"):
        list(generate(spec))


def test_trace_loop_and_class_lengths() -> None:
    arrival = {
        "kind": "trace",
        "path": "burstgpt-sample.csv",
        "format": "burstgpt",
        "loop": True,
        "lengths_from": "classes",
    }
    spec = load_workload(
        {"arrival": arrival, "requests": 1000, "classes": [CHAT]}, base_dir=SAMPLES
    )
    reqs = list(generate(spec))
    assert len(reqs) == 1000
    t = [r.arrival_s for r in reqs]
    assert all(b >= a for a, b in itertools.pairwise(t))
    assert {r.prompt_tokens for r in reqs} == {100}


def test_trace_mooncake_prefix_and_class_labels() -> None:
    arrival = {
        "kind": "trace",
        "path": str(SAMPLES / "mooncake-sample.jsonl"),
        "format": "mooncake",
    }
    spec = load_workload(
        {
            "arrival": arrival,
            "classes": [{"name": "a", "weight": 1, "slo": {"ttft_ms": 1000}}, {"name": "b"}],
        }
    )
    reqs = list(generate(spec))
    assert {r.request_class for r in reqs} == {"a", "b"}
    assert any(r.prefix for r in reqs)
    assert all(r.prefix_tokens <= r.prompt_tokens for r in reqs)


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        (
            {"arrival": {"kind": "poisson", "rate_rps": -1}, "requests": 5, "classes": [CHAT]},
            "workload.arrival.rate_rps",
            "-1",
        ),
        (
            {"arrival": {"kind": "poison", "rate_rps": 1}, "requests": 5},
            "workload.arrival.kind",
            "poisson",
        ),
        (
            {"arrival": {"kind": "poisson", "rate": 1}, "requests": 5},
            "workload.arrival.rate",
            "rate_rps",
        ),
        ({"arrival": {"kind": "poisson"}, "requests": 5}, "workload.arrival.rate_rps", "required"),
        (
            {"arrival": {"kind": "poisson", "rate_rps": 1}, "requests": 5},
            "workload.classes.0.prompt",
            "session",
        ),
        (
            {"arrival": {"kind": "poisson", "rate_rps": 1}, "classes": [CHAT]},
            "workload.requests",
            "duration_s",
        ),
        (
            {
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "requests": 5,
                "classes": [
                    {
                        "prompt": {"kind": "lognormal", "median": 5, "mean": 6, "sigma": 1},
                        "output": 1,
                    }
                ],
            },
            "workload.classes.0.prompt.median",
            "exactly one",
        ),
        (
            {
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "requests": 5,
                "classes": [{"prompt": {"kind": "uniform", "low": 9, "high": 3}, "output": 1}],
            },
            "workload.classes.0.prompt.high",
            "low",
        ),
        (
            {
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "requests": 5,
                "classes": [{"prompt": 0, "output": 1}],
            },
            "workload.classes.0.prompt",
            "greater than or equal to 1",
        ),
        (
            {"arrival": {"kind": "poisson", "rate_rps": 1}, "requests": 5, "classes": [CHAT, CHAT]},
            "workload.classes.1.name",
            "unique",
        ),
        (
            {
                "arrival": {"kind": "curve", "points": [[3, 1], [2, 5]]},
                "requests": 5,
                "classes": [CHAT],
            },
            "workload.arrival.points",
            "increasing",
        ),
        (
            {"arrival": {"kind": "trace", "path": "nope.csv", "format": "azure"}},
            "workload.arrival.path",
            "no such file",
        ),
        (
            {
                "arrival": {
                    "kind": "trace",
                    "path": str(SAMPLES / "azure-sample.csv"),
                    "format": "azure",
                },
                "classes": [CHAT],
            },
            "workload.classes.0.prompt",
            "lengths_from",
        ),
        (
            {
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "requests": 5,
                "classes": [
                    {"session": {"turns": 2, "user_tokens": 5, "output": 1, "think_s": -1}}
                ],
            },
            "workload.classes.0.session.think_s",
            "-1",
        ),
        (
            {
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "requests": 5,
                "classes": [{"prompt": {"kind": "fixed", "tokens": 10**30}, "output": 1}],
            },
            "workload.classes.0.prompt.tokens",
            "less than or equal to 1000000000",
        ),
        (
            {
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "requests": 5,
                "classes": [
                    {
                        "prompt": {"kind": "lognormal", "median": float("inf"), "sigma": 1},
                        "output": 1,
                    }
                ],
            },
            "workload.classes.0.prompt.median",
            "finite",
        ),
        (
            {
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "requests": 5,
                "classes": [{"prompt": {"kind": "empirical", "values": [5, 10**12]}, "output": 1}],
            },
            "workload.classes.0.prompt.values",
            "≤ 1000000000",
        ),
        (
            {
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "requests": 5,
                "classes": [{**CHAT, "system_prompt": {"key": "s", "tokens": 10**20}}],
            },
            "workload.classes.0.system_prompt.tokens",
            "less than or equal",
        ),
        (
            {"arrival": {"kind": "poisson", "rate_rps": 1}, "requests": "many", "classes": [CHAT]},
            "workload.requests",
            "integer",
        ),
        (
            {
                "arrival": {"kind": "poisson", "rate_rps": 1},
                "requests": 5,
                "classes": [CHAT],
                "sede": 1,
            },
            "workload.sede",
            "unknown field; allowed: arrival, classes, requests, duration_s, seed",
        ),
    ],
)
def test_bad_values_one_line_error(
    data: dict[str, Any], field: str, fragment: str, tmp_path: Path
) -> None:
    with pytest.raises(InfercostError) as info:
        load_workload({"workload": data}, base_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{field}: "), message
    assert fragment in message


def test_bad_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("workload:\n  arrival: {kind: poisson\n")
    with pytest.raises(InfercostError, match="not valid YAML at line") as info:
        load_workload(path)
    assert "\n" not in str(info.value)


def test_bad_seed() -> None:
    with pytest.raises(InfercostError, match="seed"):
        generate(workload({"kind": "poisson", "rate_rps": 1}), seed=-3)


# --- invariants -------------------------------------------------------------------------------

lengths = st.one_of(
    st.integers(1, 5000),
    st.builds(
        lambda a, b: {"kind": "uniform", "low": min(a, b), "high": max(a, b)},
        st.integers(1, 3000),
        st.integers(1, 3000),
    ),
    st.builds(
        lambda m, s: {"kind": "lognormal", "median": m, "sigma": s},
        st.floats(0.5, 5000),
        st.floats(0, 3),
    ),
)
arrivals = st.one_of(
    st.builds(lambda r: {"kind": "poisson", "rate_rps": r}, st.floats(0.01, 1000)),
    st.builds(
        lambda r, cv: {"kind": "gamma", "rate_rps": r, "cv": cv},
        st.floats(0.01, 1000),
        st.floats(0.1, 10),
    ),
    st.builds(lambda r: {"kind": "constant", "rate_rps": r}, st.floats(0.01, 1000)),
    st.builds(
        lambda a, b: {"kind": "curve", "points": [[0, a], [12, b]], "period_s": 600},
        st.floats(0, 50),
        st.floats(0.1, 50),
    ),
)
request_classes = st.one_of(
    st.builds(lambda p, o: {"prompt": p, "output": o}, lengths, lengths),
    st.builds(
        lambda t, u, o, sys: {
            "session": {"turns": t, "user_tokens": u, "output": o},
            "system_prompt": {"key": "k", "tokens": sys},
        },
        st.integers(1, 6),
        lengths,
        lengths,
        st.integers(1, 4000),
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    arrival=arrivals,
    classes=st.lists(request_classes, min_size=1, max_size=3),
    requests=st.integers(1, 3000),
    duration_s=st.none() | st.floats(0.5, 200),
    seed=st.integers(0, 2**32),
)
def test_stream_invariants(
    arrival: dict[str, Any],
    classes: list[dict[str, Any]],
    requests: int,
    duration_s: float | None,
    seed: int,
) -> None:
    named = [{"name": f"c{i}", **c} for i, c in enumerate(classes)]
    spec = load_workload(
        {
            "arrival": arrival,
            "classes": named,
            "requests": requests,
            "duration_s": duration_s,
            "seed": seed,
        }
    )
    reqs = list(generate(spec))
    if duration_s is None:
        assert len(reqs) == requests
    assert [r.id for r in reqs] == list(range(len(reqs)))
    assert len(reqs) <= requests
    firsts = [r.arrival_s for r in reqs if r.turn == 0]
    assert all(b >= a for a, b in itertools.pairwise(firsts))
    assert duration_s is None or all(t <= duration_s for t in firsts)
    assert all(r.arrival_s >= 0 and np.isfinite(r.arrival_s) for r in reqs)
    assert all(r.prompt_tokens >= 1 and r.output_tokens >= 1 for r in reqs)
    assert all(r.prompt_tokens >= r.prefix_tokens for r in reqs)
    assert all(isinstance(r.prompt_tokens, int) and isinstance(r.output_tokens, int) for r in reqs)
    for turns in _by_session(reqs).values():
        for now, nxt in itertools.pairwise(turns):
            own = now.prompt_tokens - now.prefix_tokens + now.output_tokens
            assert nxt.prefix == (*now.prefix, (now.publishes, own))
            assert nxt.prompt_tokens > now.prompt_tokens + now.output_tokens
