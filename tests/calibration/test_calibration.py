"""Deployment calibration: recovering known parameters, the profile file, and its effect on estimates.

Synthetic bench results are generated with the model itself (`calibration.predict`, i.e.
`perf.steady.continuous`) at known efficiency values, written as infercost bench JSON, and fitted back.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from conftest import VALIDATION_ROW
from infercost import estimate
from infercost.bench.config import BenchConfig
from infercost.bench.runner import BenchResult, LevelSummary
from infercost.calibration import (
    FitPoint,
    efficiency_for,
    fit_calibration,
    fit_points,
    load_calibration,
    predict,
    predict_levels,
    save_calibration,
    target_for,
)
from infercost.calibration.fit import start_efficiency
from infercost.calibration.points import load_results, result_points
from infercost.cli import app
from infercost.errors import InfercostError
from infercost.perf.efficiency import Efficiency, shipped_profile
from infercost.perf.resources import resources_for
from infercost.perf.steady import continuous, fixed_batch

ROOT = Path(__file__).resolve().parents[2]
CPU_SPEC = ROOT / "examples" / "hardware-cpu-example.yaml"
BENCH_DATA = ROOT / "tests" / "bench" / "data"
TRUE = {
    "compute": 0.4,
    "memory": 0.55,
    "compute_half_tokens": 60.0,
    "step_overhead_ms": 3.0,
    "request_overhead_ms": 12.0,
}
SHAPES = ((1024, 256), (128, 1024), (4096, 64))
LEVELS = (1, 4, 16, 64, 128)
TINY = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "torch_dtype": "bfloat16",
}


def bench_file(
    path: Path, target_args: dict[str, object], efficiency: Efficiency, shapes=SHAPES, levels=LEVELS
) -> Path:  # type: ignore[no-untyped-def]
    """infercost bench JSON whose levels are exactly what the model predicts at `efficiency`."""
    target = target_for(**target_args)  # type: ignore[arg-type]
    out = []
    for isl, osl in shapes:
        pred = predict(target, efficiency, concurrency=levels, isl=isl, osl=osl)
        for i, c in enumerate(levels):
            out.append(
                LevelSummary(
                    mode="concurrency",
                    level=float(c),
                    requests=50,
                    completed=50,
                    failed=0,
                    error_rate=0.0,
                    prompt_tokens_mean=isl,
                    output_tokens_mean=osl,
                    ttft_ms_mean=float(pred["ttft_ms"][i]),
                    tpot_ms_mean=float(pred["tpot_ms"][i]),
                    output_tps=float(pred["output_tps"][i]),
                )
            )
    result = BenchResult(source="infercost", url="http://x", model="m", levels=tuple(out))
    path.write_text(json.dumps(result.to_json()))
    return path


H100 = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "engine": "vllm"}


@pytest.fixture(scope="module")
def h100_truth() -> Efficiency:
    return start_efficiency(target_for(**H100)).model_copy(update=TRUE)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def h100_profile(tmp_path_factory, h100_truth):  # type: ignore[no-untyped-def]
    path = bench_file(tmp_path_factory.mktemp("bench") / "h100.json", H100, h100_truth)
    return fit_calibration([path], **H100)  # type: ignore[arg-type]


def test_predict_is_the_continuous_batching_steady_state(h100_truth):  # type: ignore[no-untyped-def]
    target = target_for(**H100)  # type: ignore[arg-type]
    pred = predict(target, h100_truth, concurrency=[8], isl=512, osl=128)
    res = resources_for(target.hardware, target.precision, h100_truth)
    run = continuous(
        target.model, res, target.layout, concurrency=8, isl=512, osl=128, budget=16384
    )
    assert pred["tpot_ms"][0] == pytest.approx(float(run.tpot_s) * 1e3)
    assert pred["ttft_ms"][0] == pytest.approx(float(run.ttft_s) * 1e3)
    # Little's law for a closed loop: 8 in flight, 128 tokens each per E2E
    assert pred["output_tps"][0] == pytest.approx(8 * 128 / float(run.e2e_s))


def test_fit_recovers_the_parameters_that_generated_the_data(h100_profile):  # type: ignore[no-untyped-def]
    eff = h100_profile.efficiency
    for name, value in TRUE.items():
        # these shapes pin the matmul ramp only loosely: its size moving 60 → 58 changes no
        # prediction by more than 0.03 %, so the prior's tie-break shows there
        rel = 0.05 if name == "compute_half_tokens" else 0.02
        assert getattr(eff, name) == pytest.approx(value, rel=rel), name
    assert h100_profile.fitted == list(TRUE)
    assert h100_profile.fit_error.max_ape_pct < 0.5
    assert h100_profile.fit_error.points == len(SHAPES) * len(LEVELS) * 3
    assert h100_profile.at_bounds == []
    # the per-layer overhead is folded into the per-step one
    assert eff.layer_overhead_us == 0.0
    assert h100_profile.per_step_overhead_ms == pytest.approx(3.0, rel=0.02)


def test_overhead_dominated_deployment_by_hand(tmp_path):  # type: ignore[no-untyped-def]
    """A tiny model on a CPU: its weights (0.5 MB) take ~13 µs to read, so a flat 20 ms TPOT is the
    per-step overhead, and TTFT − TPOT is the per-request overhead (the prompt fits one step)."""
    model_dir = tmp_path / "tiny"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(TINY))
    target = target_for(str(model_dir), str(CPU_SPEC), engine="vllm")
    points = [
        FitPoint("hand", "concurrency", c, c, 128, 64, 50.0, 20.0, c * 64 / (1.31))
        for c in (1.0, 2.0)
    ]
    fit = fit_points(points, target)
    step = fit.efficiency.step_overhead_ms
    assert 19.0 < step <= 20.0
    assert fit.efficiency.request_overhead_ms == pytest.approx(30.0, abs=0.5)
    assert fit.predicted["tpot_ms"] == pytest.approx([20.0, 20.0], rel=0.01)


def test_robust_loss_keeps_one_bad_level_from_moving_the_rest(tmp_path, h100_truth):  # type: ignore[no-untyped-def]
    target = target_for(**H100)  # type: ignore[arg-type]
    levels = (1, 4, 16, 64, 128)
    points = []
    for isl, osl in SHAPES:
        pred = predict(target, h100_truth, concurrency=levels, isl=isl, osl=osl)
        for i, c in enumerate(levels):
            points.append(
                FitPoint(
                    "syn",
                    "concurrency",
                    c,
                    c,
                    isl,
                    osl,
                    pred["ttft_ms"][i],
                    pred["tpot_ms"][i],
                    pred["output_tps"][i],
                )
            )
    bad = points[3]
    points[3] = FitPoint(**{**bad.__dict__, "tpot_ms": bad.tpot_ms * 2})  # type: ignore[operator]
    fit = fit_points(points, target)
    good = [i for i in range(len(points)) if i != 3]
    truth = np.array([points[i].ttft_ms for i in good])
    assert np.max(np.abs(fit.predicted["ttft_ms"][good] / truth - 1)) < 0.03


def test_profile_round_trips_through_yaml(tmp_path, h100_profile):  # type: ignore[no-untyped-def]
    path = save_calibration(h100_profile, tmp_path / "p.yaml")
    assert path.read_text().startswith("# infercost deployment calibration profile")
    again = load_calibration(path)
    assert again == h100_profile
    data = yaml.safe_load(path.read_text())
    assert data["data"][0]["sha256"] and data["data"][0]["source"] == "infercost"
    assert data["fit_error"]["mdape_pct"] >= 0
    assert data["deployment"]["engine"] == "vllm"


def test_efficiency_profile_overrides_only_the_calibrated_family(h100_profile):  # type: ignore[no-untyped-def]
    prof = h100_profile.efficiency_profile()
    fitted, got = h100_profile.efficiency, prof.resolve("hopper", "vllm")
    for name in ("compute", "memory", "step_overhead_ms", "request_overhead_ms", "kv_memory"):
        assert getattr(got, name) == pytest.approx(getattr(fitted, name), rel=1e-12), name
    shipped = shipped_profile()
    assert prof.resolve("ampere", "vllm") == shipped.resolve("ampere", "vllm")
    # another engine on the calibrated family keeps its shipped ratio to vLLM
    ratio = shipped.engines["trtllm"].memory / shipped.engines["vllm"].memory
    assert prof.resolve("hopper", "trtllm").memory == pytest.approx(fitted.memory * ratio)
    assert prof.outside_domain("ampere", None, 100) != ""
    assert prof.outside_domain("hopper", "vllm", 100) == ""
    assert "calibration" in prof.version


def test_calibration_moves_estimates_the_expected_way(h100_profile):  # type: ignore[no-untyped-def]
    """Fitted memory 0.55 < shipped 0.82 and overhead 3 ms > 1.8 ms: decode is slower."""
    plain = estimate("llama-3.1-8b", "h100-sxm", batch=8, isl=1024, osl=256, engine="vllm")
    tuned = estimate(
        "llama-3.1-8b",
        "h100-sxm",
        batch=8,
        isl=1024,
        osl=256,
        engine="vllm",
        calibration=h100_profile,
    )
    assert tuned.tpot_ms > plain.tpot_ms
    assert tuned.decode_tps < plain.decode_tps
    assert tuned.usd_per_mtok_output > plain.usd_per_mtok_output  # type: ignore[operator]
    assert tuned.outside_calibrated_domain == ""
    assert tuned.provenance.efficiency_version.startswith("calibration ")
    # the calibrated TPOT is the fitted model's decode step: overhead + weights/(BW·0.55) + …
    weights_ms = tuned.weights_bytes_per_chip / (3350e9 * 0.55) * 1e3
    assert tuned.tpot_ms > weights_ms + 3.0 * 0.98
    other = estimate("llama-3.1-70b", "h100-sxm", chips=4, calibration=h100_profile)
    assert "calibrated on model llama-3.1-8b" in other.outside_calibrated_domain


def test_predict_levels_reproduces_unseen_levels(tmp_path, h100_truth):  # type: ignore[no-untyped-def]
    path = bench_file(tmp_path / "two.json", H100, h100_truth, shapes=((512, 128),), levels=(2, 32))
    profile = fit_calibration([path], **H100)  # type: ignore[arg-type]
    third = predict_levels(profile, concurrency=[8], isl=512, osl=128)[0]
    truth = predict(target_for(**H100), h100_truth, concurrency=[8], isl=512, osl=128)  # type: ignore[arg-type]
    assert third["tpot_ms"] == pytest.approx(float(truth["tpot_ms"][0]), rel=0.05)
    assert third["output_tps"] == pytest.approx(float(truth["output_tps"][0]), rel=0.05)


def test_imported_vllm_rate_levels_use_littles_law() -> None:
    [loaded] = load_results([BENCH_DATA / "vllm_rate_sweep.jsonl"])
    first = loaded.points[0]
    assert loaded.source == "vllm"
    assert first.concurrency == pytest.approx(4.0 * 2.620)  # 4 req/s × 2.62 s mean E2E
    assert (first.isl, first.osl) == (512, 128)
    assert first.tpot_ms == 20.0 and first.ttft_ms == 80.0


def test_guidellm_report_is_usable() -> None:
    [loaded] = load_results([BENCH_DATA / "guidellm_report.json"])
    assert loaded.source == "guidellm"
    assert loaded.points or loaded.skipped


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not: [valid", "calibration"),
        ("format: something-else\n", "calibration"),
        ("format: infercost-calibration\nname: x\n", "calibration"),
    ],
)
def test_bad_profile_files_are_one_line_errors(tmp_path, text, field):  # type: ignore[no-untyped-def]
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(InfercostError) as err:
        load_calibration(path)
    assert str(err.value).startswith(field)
    assert "\n" not in str(err.value)


def test_results_with_nothing_to_fit_are_refused(tmp_path):  # type: ignore[no-untyped-def]
    empty = BenchResult(
        source="infercost",
        levels=(
            LevelSummary(
                mode="concurrency", level=1, requests=3, completed=0, failed=3, error_rate=1.0
            ),
        ),
    )
    path = tmp_path / "failed.json"
    path.write_text(json.dumps(empty.to_json()))
    with pytest.raises(InfercostError, match="no completed requests"):
        fit_calibration([path], **H100)  # type: ignore[arg-type]


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_calibrate_then_estimate_and_validate_with_the_profile(tmp_path, h100_truth):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    bench = bench_file(tmp_path / "b.json", H100, h100_truth, shapes=((1024, 256),))
    out = tmp_path / "profile.yaml"
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(bench),
            "-H",
            "h100-sxm",
            "--model",
            "llama-3.1-8b",
            "--engine",
            "vllm",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fit error: MdAPE" in result.output and out.is_file()

    args = ["estimate", "llama-3.1-8b", "-H", "h100-sxm", "--batch", "8", "--json"]
    plain = json.loads(runner.invoke(app, args).output)
    tuned = json.loads(runner.invoke(app, [*args, "--calibration", str(out)]).output)
    assert tuned["tpot_ms"] > plain["tpot_ms"]

    rows = tmp_path / "rows.csv"
    base = VALIDATION_ROW
    with rows.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(base))
        writer.writeheader()
        writer.writerow(base)
    plain_v = json.loads(runner.invoke(app, ["validate", str(rows), "--json"]).output)
    tuned_v = runner.invoke(app, ["validate", str(rows), "--json", "--calibration", str(out)])
    assert tuned_v.exit_code == 0, tuned_v.output
    data = json.loads(tuned_v.output)
    assert data["efficiency_version"].startswith("calibration ")
    assert data["efficiency_version"] != plain_v["efficiency_version"]


def test_cli_calibrate_cpu_spec_file_and_bad_input(tmp_path):  # type: ignore[no-untyped-def]
    model_dir = tmp_path / "tiny"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(TINY))
    args = {"model": str(model_dir), "hardware": str(CPU_SPEC), "engine": "vllm"}
    truth = start_efficiency(target_for(**args)).model_copy(  # type: ignore[arg-type]
        update={"compute": 0.1, "step_overhead_ms": 15.0, "request_overhead_ms": 20.0}
    )
    bench = bench_file(tmp_path / "cpu.json", args, truth, shapes=((128, 64),), levels=(1, 4))
    out = tmp_path / "cpu.yaml"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["calibrate", str(bench), "-H", str(CPU_SPEC), "--model", str(model_dir), "--engine",
         "vllm", "--out", str(out), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    profile = load_calibration(out)
    assert profile.hardware_spec is not None  # not in the catalog: the spec travels with it
    assert profile.deployment.hardware == "cpu-2core-x86-example"
    est = runner.invoke(
        app,
        ["estimate", str(model_dir), "-H", str(CPU_SPEC), "--calibration", str(out), "--batch",
         "8", "--isl", "128", "--osl", "64", "--price-per-hour", "0.1", "--json"],
    )  # fmt: skip
    assert est.exit_code == 0, est.output
    assert json.loads(est.output)["tpot_ms"] > 15.0

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    bad = runner.invoke(
        app, ["calibrate", str(broken), "-H", "h100-sxm", "--model", "llama-3.1-8b"]
    )
    assert bad.exit_code == 2
    assert bad.output.count("\n") == 1 and "error:" in bad.output
    missing = runner.invoke(
        app, ["estimate", "llama-3.1-8b", "-H", "h100-sxm", "--calibration", "/no/such.yaml"]
    )
    assert missing.exit_code == 2 and "calibration" in missing.output


def test_efficiency_for_without_a_profile_is_the_shipped_one() -> None:
    assert efficiency_for(None) is shipped_profile()


def test_simulate_with_the_profile_is_slower_per_token(tmp_path, h100_profile):  # type: ignore[no-untyped-def]
    from infercost.simulation import simulate

    scenario = {
        "name": "small",
        "model": "llama-3.1-8b",
        "deployment": {"hardware": "h100-sxm", "engine": "vllm"},
        "workload": {
            "seed": 1,
            "requests": 200,
            "arrival": {"kind": "poisson", "rate_rps": 5},
            "classes": [
                {
                    "name": "chat",
                    "prompt": {"kind": "fixed", "tokens": 512},
                    "output": {"kind": "fixed", "tokens": 128},
                }
            ],
        },
    }
    plain = simulate(scenario)
    path = save_calibration(h100_profile, tmp_path / "p.yaml")
    tuned = simulate(scenario, calibration=path)
    assert tuned.summary["tpot_ms_p50"] > plain.summary["tpot_ms_p50"]
    runner = CliRunner()
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(scenario))
    out = runner.invoke(app, ["simulate", str(file), "--calibration", str(path), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["tpot_ms_p50"] == pytest.approx(tuned.summary["tpot_ms_p50"])


def test_identical_requests_in_a_closed_loop_are_a_fixed_batch(h100_truth):  # type: ignore[no-untyped-def]
    """Our bench with fixed prompts and ignore_eos keeps every client in step: all prompts are
    prefilled together, then all decode together — the fixed-batch model, not staggered arrivals."""
    level = LevelSummary(
        mode="concurrency", level=8.0, requests=8, completed=8, failed=0, error_rate=0.0,
        prompt_tokens_mean=512, output_tokens_mean=128, tpot_ms_mean=10.0,
    )  # fmt: skip
    for ignore_eos in (True, False):
        config = BenchConfig(url="http://x", model="m", ignore_eos=ignore_eos)
        result = BenchResult(source="infercost", levels=(level,), config=config)
        (point,), _ = result_points(result, "b.json")
        assert point.lockstep is ignore_eos
    target = target_for(**H100)  # type: ignore[arg-type]
    pred = predict(target, h100_truth, concurrency=[8], isl=512, osl=128, lockstep=True)
    res = resources_for(target.hardware, target.precision, h100_truth)
    run = fixed_batch(target.model, res, target.layout, batch=8, isl=512, osl=128, budget=16384)
    assert pred["tpot_ms"][0] == pytest.approx(float(run.tpot_s) * 1e3)
    assert pred["ttft_ms"][0] == pytest.approx(float(run.ttft_s) * 1e3)
    assert pred["output_tps"][0] == pytest.approx(8 * 128 / float(run.e2e_s))
