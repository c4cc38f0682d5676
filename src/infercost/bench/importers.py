"""Read other load generators' result files into a `BenchResult`.

- `vllm bench serve --save-result` (also `benchmarks/benchmark_serving.py`): one JSON object per
  run (a list of them, or JSON lines from `--append-result`, become one level each). When the file
  holds the per-request arrays (`ttfts`, `itls`, `output_lens`, `input_lens`, `errors`), the
  figures are recomputed from them with the canonical definitions (E2E = TTFT + the sum of the
  request's ITL gaps, TPOT = (E2E − TTFT) / (output tokens − 1)); otherwise the summary fields are
  read (`mean_/median_/pNN_ttft_ms`, `…_tpot_ms`, `…_itl_ms`, `…_e2el_ms`). The level is
  `max_concurrency` (mode concurrency) or `request_rate` (mode poisson when `burstiness` is 1,
  else rate; an infinite rate is mode `burst` with no level).
- GuideLLM's benchmarks report (`benchmarks.json`): one level per entry of `benchmarks`. Its
  distributions are split by status; only `successful` is read for latencies. GuideLLM's
  `inter_token_latency_ms` is a per-request (last − first token) / (output tokens − 1), which is
  our TPOT; its per-gap ITL is not in the report, so ITL is left unknown. `request_latency` is in
  seconds. Failed = errored + incomplete requests.

Figures a file does not hold stay None; nothing is guessed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from infercost.bench.client import RequestRecord
from infercost.bench.runner import BenchResult, LevelSummary, summarize_level
from infercost.errors import InfercostError


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _load(path: Path) -> Any:
    if not path.is_file():
        raise InfercostError("file", str(path), "no such file")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        raise InfercostError(
            "file", str(path), f"is not JSON or JSON lines (line {err.lineno}: {err.msg})"
        ) from None


# --- vLLM -------------------------------------------------------------------------------------


def _vllm_level(run: dict[str, Any]) -> tuple[str, float | None]:
    concurrency = _float(run.get("max_concurrency"))
    if concurrency is not None:
        return "concurrency", concurrency
    rate = run.get("request_rate")
    rate_f = _float(rate)
    if rate_f is None:
        return "burst", None
    burstiness = _float(run.get("burstiness"))
    return ("poisson" if burstiness in (None, 1.0) else "rate"), rate_f


def _vllm_records(run: dict[str, Any]) -> list[RequestRecord] | None:
    """Per-request records rebuilt from the arrays (send time 0 per request), or None."""
    ttfts, itls, outs = run.get("ttfts"), run.get("itls"), run.get("output_lens")
    if not (isinstance(ttfts, list) and isinstance(itls, list) and isinstance(outs, list)):
        return None
    n = len(ttfts)
    ins_raw, errs_raw = run.get("input_lens"), run.get("errors")
    ins: list[Any] = ins_raw if isinstance(ins_raw, list) else [0] * n
    errs: list[Any] = errs_raw if isinstance(errs_raw, list) else [""] * n
    if not (len(itls) == len(outs) == len(ins) == len(errs) == n):
        raise InfercostError("ttfts", n, "per-request arrays must all have one entry a request")
    records = []
    for ttft, gaps, out, inp, err in zip(ttfts, itls, outs, ins, errs, strict=True):
        ttft_f = _float(ttft)
        gaps_ok = isinstance(gaps, list) and all(_float(g) is not None for g in gaps)
        failed = bool(err) or ttft_f is None or not gaps_ok or not out
        if failed:
            records.append(
                RequestRecord(0.0, (), 0.0, int(inp or 0), 0, True, error=str(err) or "failed")
            )
            continue
        assert ttft_f is not None
        times = (ttft_f, *(ttft_f + float(s) for s in np.cumsum(gaps)))
        records.append(RequestRecord(0.0, times, times[-1], int(inp), int(out), True))
    return records


def _vllm_run(run: Any, where: str) -> LevelSummary:
    if not isinstance(run, dict) or "completed" not in run:
        raise InfercostError(
            where, type(run).__name__, "expected a vLLM result object with 'completed'"
        )
    completed = run["completed"]
    if not isinstance(completed, int) or completed < 0:
        raise InfercostError(f"{where}.completed", completed, "must be a whole number ≥ 0")
    mode, level = _vllm_level(run)
    duration = _float(run.get("duration"))
    records = _vllm_records(run)
    figures: dict[str, Any] = {}
    failed = _float(run.get("failed"))
    if records is not None:
        computed = summarize_level(records, mode, level)
        figures = computed.model_dump(
            exclude={"mode", "level", "duration_s", "offered_rps", "requests_per_s"}
        )
        for key in ("output_tps", "input_tps"):  # per-request send times are not in the file
            figures[key] = None
        failed_n = computed.failed
    else:
        for metric, name in (("ttft", "ttft"), ("tpot", "tpot"), ("itl", "itl"), ("e2e", "e2el")):
            figures[f"{metric}_ms_mean"] = _float(run.get(f"mean_{name}_ms"))
            figures[f"{metric}_ms_p50"] = _float(
                run.get(f"median_{name}_ms", run.get(f"p50_{name}_ms"))
            )
            figures[f"{metric}_ms_p90"] = _float(run.get(f"p90_{name}_ms"))
            figures[f"{metric}_ms_p99"] = _float(run.get(f"p99_{name}_ms"))
        failed_n = int(failed) if failed is not None else 0
        total_in, total_out = (
            _float(run.get("total_input_tokens")),
            _float(run.get("total_output_tokens")),
        )
        figures["prompt_tokens_mean"] = (
            total_in / completed if total_in is not None and completed else None
        )
        figures["output_tokens_mean"] = (
            total_out / completed if total_out is not None and completed else None
        )
    requests = completed + failed_n
    figures |= {
        "mode": mode,
        "level": level,
        "requests": requests,
        "completed": completed,
        "failed": failed_n,
        "error_rate": failed_n / requests if requests else 0.0,
        "duration_s": duration,
        "requests_per_s": _float(run.get("request_throughput")),
        "output_tps": _float(run.get("output_throughput")),
    }
    if figures.get("input_tps") is None and duration:
        total_in = _float(run.get("total_input_tokens"))
        figures["input_tps"] = total_in / duration if total_in is not None else None
    return LevelSummary(**figures)


def import_vllm(data: Any) -> BenchResult:
    runs = data if isinstance(data, list) else [data]
    if not runs:
        raise InfercostError("file", "[]", "holds no vLLM results")
    levels = tuple(_vllm_run(run, f"runs[{i}]") for i, run in enumerate(runs))
    first = runs[0]
    return BenchResult(
        source="vllm",
        model=first.get("model_id"),
        endpoint=first.get("endpoint_type") or first.get("backend"),
        mode=levels[0].mode,
        levels=levels,
    )


# --- GuideLLM ---------------------------------------------------------------------------------


def _successful(metrics: dict[str, Any], name: str) -> dict[str, Any] | None:
    dist = metrics.get(name)
    if not isinstance(dist, dict):
        return None
    ok = dist.get("successful", dist.get("completed"))
    return ok if isinstance(ok, dict) else None


def _dist_figures(dist: dict[str, Any] | None, prefix: str, scale: float) -> dict[str, Any]:
    if dist is None:
        return {}
    pct = dist.get("percentiles") if isinstance(dist.get("percentiles"), dict) else {}
    assert isinstance(pct, dict)

    def scaled(value: Any) -> float | None:
        v = _float(value)
        return v * scale if v is not None else None

    return {
        f"{prefix}_ms_mean": scaled(dist.get("mean")),
        f"{prefix}_ms_p50": scaled(pct.get("p50", dist.get("median"))),
        f"{prefix}_ms_p90": scaled(pct.get("p90")),
        f"{prefix}_ms_p99": scaled(pct.get("p99")),
    }


def _count(dist: Any) -> int:
    return int(dist.get("count", 0)) if isinstance(dist, dict) else 0


def _guidellm_strategy(bench: dict[str, Any]) -> tuple[str, float | None]:
    strategy: Any = None
    for holder in ("args", "config", "scheduler", "run_stats"):
        part = bench.get(holder)
        if isinstance(part, dict) and isinstance(part.get("strategy"), dict):
            strategy = part["strategy"]
            break
    if not isinstance(strategy, dict):
        return "unknown", None
    kind = str(strategy.get("type_", strategy.get("type", "unknown")))
    if kind == "synchronous":
        return "concurrency", 1.0
    if kind == "concurrent":
        return "concurrency", _float(strategy.get("streams"))
    if kind in ("constant", "poisson"):
        return ("rate" if kind == "constant" else "poisson"), _float(strategy.get("rate"))
    return kind, _float(strategy.get("max_concurrency"))


def _guidellm_bench(bench: Any, where: str) -> LevelSummary:
    if not isinstance(bench, dict) or not isinstance(bench.get("metrics"), dict):
        raise InfercostError(
            where, type(bench).__name__, "expected a GuideLLM benchmark with 'metrics'"
        )
    metrics: dict[str, Any] = bench["metrics"]
    mode, level = _guidellm_strategy(bench)
    totals = bench.get("request_totals")
    latency = (
        metrics.get("request_latency") if isinstance(metrics.get("request_latency"), dict) else {}
    )
    assert isinstance(latency, dict)
    if isinstance(totals, dict):
        completed = int(totals.get("successful", totals.get("completed", 0)) or 0)
        failed = int(totals.get("errored", 0) or 0) + int(totals.get("incomplete", 0) or 0)
    else:
        completed = _count(latency.get("successful", latency.get("completed")))
        failed = _count(latency.get("errored")) + _count(latency.get("incomplete"))
    start, end = _float(bench.get("start_time")), _float(bench.get("end_time"))
    duration = _float(bench.get("duration"))
    if duration is None and start is not None and end is not None:
        duration = end - start
    figures: dict[str, Any] = {}
    figures |= _dist_figures(_successful(metrics, "time_to_first_token_ms"), "ttft", 1.0)
    figures |= _dist_figures(_successful(metrics, "inter_token_latency_ms"), "tpot", 1.0)
    figures |= _dist_figures(_successful(metrics, "request_latency"), "e2e", 1e3)
    rps = _successful(metrics, "requests_per_second")
    tps = _successful(metrics, "output_tokens_per_second")
    ptok = _successful(metrics, "prompt_token_count")
    otok = _successful(metrics, "output_token_count")
    requests = completed + failed
    return LevelSummary(
        mode=mode,
        level=level,
        requests=requests,
        completed=completed,
        failed=failed,
        error_rate=failed / requests if requests else 0.0,
        duration_s=duration,
        requests_per_s=_float(rps.get("mean")) if rps else None,
        output_tps=_float(tps.get("mean")) if tps else None,
        prompt_tokens_mean=_float(ptok.get("mean")) if ptok else None,
        output_tokens_mean=_float(otok.get("mean")) if otok else None,
        **figures,
    )


def import_guidellm(data: Any) -> BenchResult:
    benches = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benches, list) or not benches:
        raise InfercostError(
            "benchmarks", None, "a GuideLLM report holds a non-empty 'benchmarks' list"
        )
    levels = tuple(_guidellm_bench(b, f"benchmarks[{i}]") for i, b in enumerate(benches))
    return BenchResult(source="guidellm", mode=levels[0].mode, levels=levels)


def import_result(path: str | Path) -> BenchResult:
    """A vLLM or GuideLLM result file (told apart by its keys) as a `BenchResult`."""
    path = Path(path)
    data = _load(path)
    if isinstance(data, dict) and "benchmarks" in data:
        return import_guidellm(data)
    runs = data if isinstance(data, list) else [data]
    if runs and all(isinstance(r, dict) and "completed" in r for r in runs):
        return import_vllm(data)
    if isinstance(data, dict) and data.get("source") == "infercost" and "levels" in data:
        return BenchResult.model_validate(data)
    raise InfercostError(
        "file",
        str(path),
        "is neither a vLLM bench serve result, a GuideLLM report nor an infercost bench result",
    )
