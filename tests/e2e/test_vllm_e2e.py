"""End-to-end against a real vLLM server: bench → scrape → audit → calibrate → predict a third level.

Skipped unless `INFERCOST_VLLM_URL` names a running OpenAI-compatible vLLM server (what
`.ci/vllm_e2e.sh` starts: vLLM's CPU build serving the tiny model of `make_tiny_model.py`).

    INFERCOST_VLLM_URL=http://127.0.0.1:8000 INFERCOST_E2E_CONFIG=/path/to/model/config.json \
        .venv/bin/pytest tests/e2e -s

Settings (environment): INFERCOST_E2E_MODEL (served name, default tiny-llama), INFERCOST_E2E_CONFIG
(the model's config.json, needed to calibrate), INFERCOST_E2E_HARDWARE (spec of the machine, default
examples/hardware-cpu-example.yaml), INFERCOST_E2E_FIT_LEVELS (default 1,8),
INFERCOST_E2E_CHECK_LEVEL (default 4), INFERCOST_E2E_REQUESTS (per level, default 64),
INFERCOST_E2E_ISL / _OSL (default 64 / 32), INFERCOST_E2E_OUT (where results are kept; default a
temporary folder), INFERCOST_E2E_TOLERANCE (default 0.20).

Everything runs through the `infercost` command line, as a user would; the prediction of the third
level is `calibration.predict_levels`, the same continuous-batching model the fit used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

URL = os.environ.get("INFERCOST_VLLM_URL", "")
pytestmark = pytest.mark.skipif(
    not URL, reason="set INFERCOST_VLLM_URL to a running vLLM server (.ci/vllm_e2e.sh does)"
)

ROOT = Path(__file__).resolve().parents[2]
INFERCOST = Path(sys.executable).with_name("infercost")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"INFERCOST_E2E_{name}", default) or default


MODEL = _env("MODEL", "tiny-llama")
HARDWARE = _env("HARDWARE", str(ROOT / "examples" / "hardware-cpu-example.yaml"))
FIT_LEVELS = tuple(int(x) for x in _env("FIT_LEVELS", "1,8").split(","))
CHECK_LEVEL = int(_env("CHECK_LEVEL", "4"))
REQUESTS = int(_env("REQUESTS", "64"))  # lockstep rounds at 8: enough steps to average
ISL = int(_env("ISL", "64"))
OSL = int(_env("OSL", "32"))
TOLERANCE = float(_env("TOLERANCE", "0.20"))
SCRAPE_EVERY_S = 2
# Long enough for the benches on a quiet 2-core machine (about 40 s) with idle time on both sides.
SCRAPE_S = int(_env("SCRAPE_S", "120"))


def infercost(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run the `infercost` command line; a non-zero exit fails the test with its output."""
    cmd = [str(INFERCOST), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def bench(levels: tuple[int, ...], out: Path) -> dict[str, Any]:
    infercost(
        "bench", URL, "--model", MODEL, "--levels", ",".join(map(str, levels)),
        "--requests", str(REQUESTS), "--isl", str(ISL), "--osl", str(OSL), "--ignore-eos",
        "--max-error-rate", "0.5", "--out", str(out), "--json",
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@dataclass(frozen=True)
class Run:
    """What the module's one pass against the server produced."""

    out: Path
    fit: dict[str, Any]  # bench result of the calibration levels
    check: dict[str, Any]  # bench result of the third level
    scrape: Path  # saved Prometheus text, several scrapes
    store: Path
    load_window: tuple[float, float]  # wall-clock seconds the benches ran (for the audit)
    scrape_window: tuple[float, float]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Scrape /metrics in the background while benching the fit levels, then the check level; the
    scrape runs on past the benches so the window holds an idle tail of known length."""
    out = Path(os.environ.get("INFERCOST_E2E_OUT") or tmp_path_factory.mktemp("vllm-e2e"))
    out.mkdir(parents=True, exist_ok=True)
    store, saved = out / "store.duckdb", out / "metrics.prom"
    for stale in (store, saved):
        stale.unlink(missing_ok=True)
    scrape_start = time.time()
    scraper = subprocess.Popen(
        [str(INFERCOST), "scrape", f"{URL.rstrip('/')}/metrics", "--for", f"{SCRAPE_S}s",
         "--every", f"{SCRAPE_EVERY_S}s", "--store", str(store), "--save", str(saved), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(2 * SCRAPE_EVERY_S)  # an idle head too
        load_start = time.time()
        fit = bench(FIT_LEVELS, out / "bench-fit.json")
        check = bench((CHECK_LEVEL,), out / "bench-check.json")
        load_end = time.time()
        stdout, stderr = scraper.communicate(timeout=SCRAPE_S + 120)
    finally:
        if scraper.poll() is None:
            scraper.kill()
    if scraper.returncode != 0:
        pytest.fail(f"infercost scrape exited {scraper.returncode}:\n{stdout}\n{stderr}")
    scrape_end = time.time()
    windows = {"scrape": [scrape_start, scrape_end], "load": [load_start, load_end]}
    (out / "windows.json").write_text(json.dumps(windows) + "\n")
    return Run(out, fit, check, saved, store, (load_start, load_end), (scrape_start, scrape_end))


def require_scrape_covers_load(run: Run) -> None:
    """The telemetry checks compare the scrape with the benches: the scrape must span them."""
    last_scrape = run.scrape_window[0] + (SCRAPE_S // SCRAPE_EVERY_S - 1) * SCRAPE_EVERY_S
    if last_scrape < run.load_window[1]:
        pytest.fail(
            f"the benches ran {run.load_window[1] - run.load_window[0]:.0f} s, past the scrape "
            "window; raise INFERCOST_E2E_SCRAPE_S"
        )


def test_bench_measures_every_request(run: Run) -> None:
    """Every request completes; the server's own token counts are what we asked for."""
    levels = run.fit["levels"] + run.check["levels"]
    assert [lv["level"] for lv in levels] == [*map(float, FIT_LEVELS), float(CHECK_LEVEL)]
    for lv in levels:
        assert lv["failed"] == 0, lv["failure_reasons"]
        assert lv["completed"] == REQUESTS
        # ignore_eos: every answer is OSL tokens long, as the server's usage reports.
        assert lv["output_tokens_mean"] == OSL
        # The tiny model's tokenizer keeps the synthetic words whole; the server adds a BOS token.
        assert ISL <= lv["prompt_tokens_mean"] <= ISL + 2
        assert 0 < lv["ttft_ms_p50"] <= lv["e2e_ms_p50"]
        assert lv["output_tps"] > 0


def test_metrics_scraped_and_ingested(run: Run) -> None:
    """The saved scrape holds several vLLM scrapes, and the store counts every generated token."""
    import duckdb

    text = run.scrape.read_text()
    assert text.count("# scrape at ") >= 3
    con = duckdb.connect(str(run.store), read_only=True)
    try:
        engines = {
            r[0] for r in con.execute("select distinct engine from engine_samples").fetchall()
        }
        assert "vllm" in engines
        last = con.execute(
            "select max(value) from engine_samples where metric = 'vllm:generation_tokens_total'"
        ).fetchone()
    finally:
        con.close()
    generated = sum(lv["completed"] * lv["output_tokens_mean"] for lv in run.fit["levels"])
    generated += sum(lv["completed"] * lv["output_tokens_mean"] for lv in run.check["levels"])
    # The counter is cumulative since the server started: its last value counts all our tokens.
    require_scrape_covers_load(run)
    assert last is not None and last[0] is not None
    assert last[0] >= generated


def test_audit_of_the_scrape(run: Run) -> None:
    """`infercost audit` of the saved scrape counts exactly the tokens the benches made, reads the
    lengths the server saw, and reports activity only while the benches ran."""
    require_scrape_covers_load(run)
    config = os.environ.get("INFERCOST_E2E_CONFIG")
    model_args = ["--hardware", HARDWARE, "--model", config] if config else []
    report = json.loads(
        infercost(
            "audit", str(run.scrape), "--store", str(run.store), *model_args, "--engine", "vllm",
            "--price-per-hour", "0.1", "--out", str(run.out / "audit"), "--json",
        ).stdout
    )  # fmt: skip
    levels = run.fit["levels"] + run.check["levels"]
    made = sum(lv["completed"] * lv["output_tokens_mean"] for lv in levels)
    prompt_mean = sum(lv["completed"] * lv["prompt_tokens_mean"] for lv in levels) / sum(
        lv["completed"] for lv in levels
    )
    tp, util = report["throughput"], report["utilization"]
    observed = util["observed_s"]
    load_share = (run.load_window[1] - run.load_window[0]) / observed
    sample_share = SCRAPE_EVERY_S / observed
    print(
        f"\naudit: {tp['output_tokens']:.0f} output tokens (benches made {made:.0f}); isl "
        f"{tp['isl']:.2f} / osl {tp['osl']:.2f} (benches {prompt_mean:.2f} / {OSL}); idle "
        f"{util['idle_share']:.1%}, underused {util['underused_share']:.1%}, busy "
        f"{util['busy_share']:.1%} of {observed:.0f} s, load ran {load_share:.1%} of it; "
        f"{len(report['recommendations'])} recommendations, skipped: {sorted(report['skipped'])}"
    )
    # The generation counter's rise over the window is every token the benches streamed.
    assert tp["output_tokens"] == pytest.approx(made)
    assert tp["osl"] == pytest.approx(OSL)
    assert tp["isl"] == pytest.approx(prompt_mean, abs=0.5)
    assert util["idle_share"] + util["underused_share"] + util["busy_share"] == pytest.approx(1.0)
    # Nothing ran outside the load window, so the server was active at most that long (one sample
    # of slack at each edge) and was seen active at some point.
    active = util["underused_share"] + util["busy_share"]
    assert 0 < active <= load_share + 2 * sample_share
    assert (run.out / "audit" / "report.html").stat().st_size > 0


def test_calibrated_model_predicts_third_level(run: Run) -> None:
    """Calibrate on the fit levels; the third level's throughput and TPOT are within TOLERANCE."""
    from infercost.bench.runner import BenchResult
    from infercost.calibration import load_calibration, predict_levels
    from infercost.calibration.points import runs_in_lockstep

    config = os.environ.get("INFERCOST_E2E_CONFIG")
    if not config:
        pytest.skip("set INFERCOST_E2E_CONFIG to the served model's config.json to calibrate")
    profile_path = run.out / "calibration.yaml"
    proc = infercost(
        "calibrate", str(run.out / "bench-fit.json"), "--hardware", HARDWARE, "--model", config,
        "--engine", "vllm", "--out", str(profile_path), "--json",
    )  # fmt: skip
    fitted = json.loads(proc.stdout)
    profile = load_calibration(profile_path)
    eff = profile.efficiency
    # The workload is the one the fit levels ran: their mean lengths, not the third run's.
    isl = sum(lv["prompt_tokens_mean"] for lv in run.fit["levels"]) / len(run.fit["levels"])
    osl = sum(lv["output_tokens_mean"] for lv in run.fit["levels"]) / len(run.fit["levels"])
    # the check level runs as the bench ran it: identical requests in a closed loop keep lockstep
    lockstep = runs_in_lockstep(BenchResult.model_validate(run.check))
    (pred,) = predict_levels(profile, concurrency=CHECK_LEVEL, isl=isl, osl=osl, lockstep=lockstep)
    est = json.loads(
        infercost(
            "estimate", config, "--hardware", HARDWARE, "--calibration", str(profile_path),
            "--batch", str(CHECK_LEVEL), "--isl", str(round(isl)), "--osl", str(round(osl)),
            "--price-per-hour", "0.1", "--json",
        ).stdout
    )  # fmt: skip
    (measured,) = run.check["levels"]
    rows = [
        ("output tok/s", measured["output_tps"], pred["output_tps"]),
        ("TPOT ms (mean)", measured["tpot_ms_mean"], pred["tpot_ms"]),
        ("TTFT ms (mean, not checked)", measured["ttft_ms_mean"], pred["ttft_ms"]),
    ]
    lines = [
        f"calibrated on concurrency {','.join(map(str, FIT_LEVELS))} "
        f"(isl {isl:.1f}, osl {osl:.1f}): compute {eff.compute:.3f}, memory {eff.memory:.3f} "
        f"of the spec's peaks, step overhead {eff.step_overhead_ms:.3f} ms, request overhead "
        f"{eff.request_overhead_ms:.1f} ms, compute half-tokens {eff.compute_half_tokens:.1f}; "
        f"at bounds: {', '.join(profile.at_bounds) or 'none'}; "
        f"fit MdAPE {profile.fit_error.mdape_pct:.1f} %",
        f"estimate --calibration at batch {CHECK_LEVEL}: TPOT {est['tpot_ms']:.2f} ms, "
        f"output {est['output_tps']:.1f} tok/s (static batch; not the checked figure)",
        f"{'concurrency ' + str(CHECK_LEVEL):<30}{'measured':>12}{'predicted':>12}{'error':>10}",
    ]
    errors: dict[str, float] = {}
    for name, meas, pr in rows:
        err = (pr - meas) / meas
        errors[name] = err
        lines.append(f"{name:<30}{meas:>12.2f}{pr:>12.2f}{err:>+10.1%}")
    for p in profile.points:
        lines.append(
            f"  fit point c={p.concurrency:g} {p.metric}: measured {p.measured:.2f}, "
            f"model {p.predicted:.2f} ({p.error_pct:+.1f} %)"
        )
    report = "\n".join(lines)
    print("\n" + report)
    summary = {
        "fit_levels": FIT_LEVELS,
        "check_level": CHECK_LEVEL,
        "efficiency": eff.model_dump(mode="json"),
        "fit_error": fitted.get("fit_error"),
        "measured": {"output_tps": measured["output_tps"], "tpot_ms": measured["tpot_ms_mean"]},
        "predicted": {"output_tps": pred["output_tps"], "tpot_ms": pred["tpot_ms"]},
        "errors": errors,
        "tolerance": TOLERANCE,
    }
    (run.out / "prediction.json").write_text(json.dumps(summary, indent=2) + "\n")
    assert abs(errors["output tok/s"]) <= TOLERANCE, report
    assert abs(errors["TPOT ms (mean)"]) <= TOLERANCE, report
