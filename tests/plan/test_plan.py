"""The planner end to end on the shipped 70B chat example, its JSON contract and infeasible plans.

Acceptance: the winner the simulator verified meets the SLOs (checked here by an independent
simulation built from the JSON fields), and every screened deployment cheaper than the winner fails
in the simulator. Verification runs 30 simulated seconds per check (fixed seed) to keep this fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from infercost.cli import app
from infercost.plan import InfeasibleError, Plan, plan
from infercost.plan.screen import rank
from infercost.plan.space import load_plan
from infercost.simulation import simulate

EXAMPLE = Path(__file__).parents[2] / "examples" / "plan-chat-70b.yaml"
DURATION_S = 30.0
BEST_KEYS = {
    "hardware",
    "chips_per_replica",
    "tp",
    "pp",
    "ep",
    "replicas",
    "usd_per_hour",
    "usd_per_mtok_output",
    "ttft_ms_p99",
    "tpot_ms_p99",
}
runner = CliRunner()


@pytest.fixture(scope="module")
def example() -> Plan:
    # the shipped file, with room for the winner to give back every replica it can spare
    request = load_plan(EXAMPLE)
    request = request.model_copy(update={"verify": request.verify.model_copy(update={"trim": 16})})
    return plan(request, verify_duration_s=DURATION_S, workers=1)


def measured(d: dict[str, Any], prefill: int, decode: int) -> dict[str, float]:
    """p99 TTFT/TPOT (ms) after the warm-up and the rejected count of a deployment, simulated
    from a scenario written here from the deployment's fields (not through plan.verify)."""
    request = load_plan(EXAMPLE)
    scenario: dict[str, Any] = {
        "model": request.model,
        "deployment": {
            "hardware": d["hardware"],
            "tp": d["tp"],
            "pp": d["pp"],
            "ep": d["ep"],
            "weights": d["weights"],
            "kv": d["kv"],
            "engine": "vllm",
            "price_per_chip_hour": d["usd_per_chip_hour"],
        },
        "scheduler": {
            "max_num_seqs": d["max_num_seqs"],
            "max_num_batched_tokens": d["chunk"],
            "memory_utilization": 0.92,  # vLLM's default, as the plan uses
        },
        "cluster": (
            {"groups": [{"count": prefill, "role": "prefill"}, {"count": decode, "role": "decode"}]}
            if d["mode"] == "disaggregated"
            else {"replicas": decode}
        ),
        "workload": {
            **request.workload.model_dump(mode="json", exclude_none=True),
            "duration_s": DURATION_S,
        },
    }
    scenario["workload"].pop("requests", None)
    cols = simulate(scenario).requests()
    keep = cols["arrival_s"] >= request.verify.warmup_s
    done = keep & np.isfinite(cols["finish_s"])
    ttft, tpot = cols["ttft_s"][done], cols["tpot_s"][done]
    return {
        "ttft_ms": float(np.percentile(ttft, 99)) * 1e3,
        "tpot_ms": float(np.percentile(tpot[np.isfinite(tpot)], 99)) * 1e3,
        "rejected": float(np.sum(keep & ~np.isfinite(cols["finish_s"]))),
    }


def test_the_verified_winner_meets_the_slos(example: Plan) -> None:
    best = example.result.best.model_dump()
    assert example.result.best.status == "winner"
    assert example.result.best.latency_source == "simulated"
    got = measured(best, best["prefill_replicas"], best["replicas"] - best["prefill_replicas"])
    assert got["rejected"] == 0
    assert got["ttft_ms"] <= 1000.0 and got["tpot_ms"] <= 50.0
    # the plan reports what the simulator measured
    assert best["ttft_ms_p99"] == pytest.approx(got["ttft_ms"], rel=1e-6)
    assert best["tpot_ms_p99"] == pytest.approx(got["tpot_ms"], rel=1e-6)


def test_no_cheaper_screened_deployment_passes_the_simulator(example: Plan) -> None:
    best = example.result.best
    assert example.result.exhaustive
    cheaper = [r for r in rank(example.sweep) if r["usd_per_hour"] < best.usd_per_hour - 1e-9]
    for r in cheaper:
        got = measured(r, r["prefill_replicas"], r["replicas"] - r["prefill_replicas"])
        assert got["ttft_ms"] > 1000.0 or got["tpot_ms"] > 50.0 or got["rejected"] > 0, r


def test_the_winner_cannot_give_back_a_replica(example: Plan) -> None:
    # the cheaper variants of the winner itself: one replica fewer in any pool fails the SLOs
    best = example.result.best.model_dump()
    prefill, decode = best["prefill_replicas"], best["replicas"] - best["prefill_replicas"]
    fewer = (
        [(prefill, decode - 1)]
        if best["mode"] == "aggregated"
        else [
            (prefill - 1, decode),
            (prefill, decode - 1),
        ]
    )
    fewer = [(p, d) for p, d in fewer if d >= 1 and (p >= 1 or best["mode"] == "aggregated")]
    assert fewer, "the winner is a single replica"
    for p, d in fewer:
        got = measured(best, p, d)
        assert got["ttft_ms"] > 1000.0 or got["tpot_ms"] > 50.0 or got["rejected"] > 0, (p, d)


def test_ranking_costs_and_runner_up(example: Plan) -> None:
    r = example.result
    verified = [c for c in r.candidates if c.latency_source == "simulated"]
    passed = [c for c in verified if c.status in ("winner", "passed")]
    assert passed[0] is r.candidates[0]
    assert [c.usd_per_hour for c in passed] == sorted(c.usd_per_hour for c in passed)
    for c in r.candidates:
        chips = c.replicas * c.chips_per_replica
        assert c.usd_per_hour == pytest.approx(chips * c.usd_per_chip_hour)
        tokens_per_hour = r.load_rps * r.osl_mean * 3600
        assert c.usd_per_mtok_output == pytest.approx(c.usd_per_hour / tokens_per_hour * 1e6)
    assert r.runner_up is not None and r.runner_up_lost == r.candidates[1].why_not != ""
    assert r.points_screened == len(example.sweep["hardware"]) > 1000
    assert sum(p.winner for p in r.pareto) == 1


def test_launch_and_whatifs_of_the_winner(example: Plan) -> None:
    r = example.result
    best = r.best
    argv = r.launch.vllm[0].argv
    assert argv[argv.index("--tensor-parallel-size") + 1] == str(best.tp)
    assert sum(c.count for c in r.launch.vllm) == best.replicas
    changes = [w.change for w in r.whatifs]
    assert any("weights" in c for c in changes) and any("KV" in c for c in changes)
    assert any(c in ("aggregated", "disaggregated prefill/decode") for c in changes)
    assert any(c.startswith("on ") and c != f"on {best.hardware}" for c in changes)
    for w in r.whatifs:
        if w.available and w.basis == "simulated":
            other = next(c for c in r.candidates if c.layout == w.deployment)
            assert w.delta_usd_per_hour == pytest.approx(other.usd_per_hour - best.usd_per_hour)


def small_plan_file(tmp_path: Path, **slo: float) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["slo"] = {**data["slo"], **slo}
    data["search"]["hardware"] = ["h100-sxm", "h200"]
    data["search"]["modes"] = ["aggregated"]
    data["verify"].update({"top": 2, "duration_s": 20, "warmup_s": 5})
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_json_contract(tmp_path: Path) -> None:
    path = small_plan_file(tmp_path)
    out = runner.invoke(
        app, ["plan", str(path), "--json", "--store", str(tmp_path / "s.duckdb"), "--workers", "1"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data["best"]) >= BEST_KEYS
    assert data["best"]["hardware"] in ("h100-sxm", "h200")
    assert data["candidates"][0] == data["best"]
    assert data["id"] and data["launch"]["vllm"][0]["argv"][:2] == ["vllm", "serve"]


def test_infeasible_workload_is_one_line_naming_the_closest(tmp_path: Path) -> None:
    path = small_plan_file(tmp_path, tpot_ms=2)
    out = runner.invoke(app, ["plan", str(path), "--no-save"])
    assert out.exit_code == 2
    text = out.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1
    assert text.startswith("error: infeasible: nothing meets p99 TTFT ≤ 1000 ms, TPOT ≤ 2 ms")
    assert "closest: " in text and "TPOT" in text.split("closest: ")[1]
    with pytest.raises(InfeasibleError, match="closest"):
        plan(path)
