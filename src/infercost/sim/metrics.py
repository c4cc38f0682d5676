"""Metrics of a simulated run, with the canonical definitions shared with the load generator.

- TTFT: arrival → first output token (queueing included).
- TPOT: (E2E − TTFT) / (output tokens − 1), per request with at least two output tokens.
- ITL: the gap between consecutive tokens of a request. Every decode step emits one token for each
  sequence it decodes, so the ITL distribution is the time since the previous decode step (prefill-
  only steps in between included) weighted by the sequences decoded, plus the longer gaps of
  requests resumed after preemption.
- E2E: arrival → last token. Queue time: arrival → first scheduled.
- Throughput counts output tokens of completed requests over the run (first arrival → last finish).
- Goodput: completed requests per second that met every latency target of their class.
- MFU / MBU: FLOPs (bytes) the steps executed per chip ÷ (peak × run time), averaged over replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from infercost._types import FloatArray
from infercost.econ.cost import SECONDS_PER_HOUR
from infercost.sim.loop import RunResult
from infercost.sim.replica import Live
from infercost.sim.workload import SLO

PERCENTILES = (50, 90, 99)


def weighted_percentile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """The q-th percentile of `values` where each value counts `weights` times."""
    if values.size == 0 or weights.sum() <= 0:
        return float("nan")
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q / 100.0 * cum[-1])])


@dataclass(frozen=True)
class ReplicaCosting:
    chips: int
    usd_per_chip_hour: float | None
    peak_flops: float
    memory_bw: float


def _pct(prefix: str, values: FloatArray, scale: float = 1e3) -> dict[str, float]:
    ok = values[np.isfinite(values)]
    return {
        f"{prefix}_p{q}": float(np.percentile(ok, q)) * scale if ok.size else float("nan")
        for q in PERCENTILES
    }


def request_table(requests: list[Live]) -> dict[str, np.ndarray[Any, Any]]:
    """One column per field, one row per request (times in seconds)."""
    n = len(requests)
    nan = np.full(n, np.nan)
    cols: dict[str, np.ndarray[Any, Any]] = {
        "id": np.array([r.spec.id for r in requests], dtype=np.int64),
        "request_class": np.array([r.spec.request_class for r in requests], dtype=object),
        "replica": np.array([r.replica for r in requests], dtype=np.int64),
        "arrival_s": np.array([r.arrival_s for r in requests]),
        "prompt_tokens": np.array([r.spec.prompt_tokens for r in requests], dtype=np.int64),
        "output_tokens": np.array([r.spec.output_tokens for r in requests], dtype=np.int64),
        "first_scheduled_s": nan.copy(),
        "first_token_s": nan.copy(),
        "finish_s": nan.copy(),
        "preemptions": np.array([r.preemptions for r in requests], dtype=np.int64),
        "rejected": np.array([r.rejected or "" for r in requests], dtype=object),
    }
    for i, r in enumerate(requests):
        if r.first_scheduled_s is not None:
            cols["first_scheduled_s"][i] = r.first_scheduled_s
        if r.first_token_s is not None:
            cols["first_token_s"][i] = r.first_token_s
        if r.finish_s is not None:
            cols["finish_s"][i] = r.finish_s
    arrival = cols["arrival_s"]
    cols["ttft_s"] = cols["first_token_s"] - arrival
    cols["e2e_s"] = cols["finish_s"] - arrival
    cols["queue_s"] = cols["first_scheduled_s"] - arrival
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["tpot_s"] = np.where(
            cols["output_tokens"] > 1,
            (cols["e2e_s"] - cols["ttft_s"]) / (cols["output_tokens"] - 1),
            np.nan,
        )
    return cols


def met_slo(cols: dict[str, np.ndarray[Any, Any]], slos: dict[str, SLO]) -> np.ndarray[Any, Any]:
    """Whether each completed request met every target of its class (True where none is set)."""
    ok: np.ndarray[Any, Any] = np.isfinite(cols["finish_s"])
    for name, slo in slos.items():
        mine = cols["request_class"] == name
        for field, limit in (
            ("ttft_s", slo.ttft_ms),
            ("tpot_s", slo.tpot_ms),
            ("e2e_s", slo.e2e_ms),
        ):
            if limit is not None:
                value = np.nan_to_num(cols[field], nan=0.0 if field == "tpot_s" else np.inf)
                ok &= ~mine | (value <= limit / 1e3)
    return ok


def _steady_tps(result: RunResult, finishes: FloatArray) -> float:
    """Output tokens/s between the 10th and 90th percentile completion: the run without its
    ramp-up and drain."""
    if finishes.size < 10:
        return float("nan")
    t1, t2 = np.percentile(finishes, [10, 90])
    end, emitted = result.steps.column("end_s"), result.steps.column("tokens_out")
    inside = (end > t1) & (end <= t2)
    return float(emitted[inside].sum() / (t2 - t1)) if t2 > t1 else float("nan")


def summarize(
    result: RunResult,
    costing: list[ReplicaCosting],
    slos: dict[str, SLO],
) -> dict[str, Any]:
    """The run's headline figures (the `--json` object of `infercost simulate`)."""
    cols = request_table(result.requests)
    done = np.isfinite(cols["finish_s"])
    start = float(cols["arrival_s"].min()) if len(cols["arrival_s"]) else 0.0
    end = float(np.nanmax(cols["finish_s"])) if done.any() else start
    duration = max(end - start, 1e-12)
    out_tokens = float(cols["output_tokens"][done].sum())
    in_tokens = float(cols["prompt_tokens"][done].sum())

    steps = result.steps
    step_s, decodes = steps.column("seconds"), steps.column("decodes")
    replica_of = steps.column("replica").astype(np.int64)
    gaps = np.array([g for r in result.requests for g in r.itl_gaps_s])
    decoding = decodes > 0
    itl_values = np.concatenate([steps.column("decode_gap_s")[decoding], gaps])
    itl_weights = np.concatenate([decodes[decoding], np.ones(gaps.size)])

    n_rep = len(result.replicas)

    def per_replica(column: str) -> FloatArray:
        weights = steps.column(column)
        return np.bincount(replica_of, weights=weights, minlength=n_rep).astype(float)

    busy = per_replica("seconds") / duration
    flops, moved = per_replica("flops_per_chip"), per_replica("bytes_per_chip")
    occupancy = steps.column("kv_occupancy")
    kv_mean = float(np.average(occupancy, weights=step_s)) if step_s.sum() > 0 else 0.0
    hits = sum(r.kv.hit_tokens for r in result.replicas)
    queried = sum(r.kv.query_tokens for r in result.replicas)

    prices = [c.usd_per_chip_hour for c in costing]
    usd = (
        sum(c.chips * (c.usd_per_chip_hour or 0.0) for c in costing) * duration / SECONDS_PER_HOUR
        if all(p is not None for p in prices)
        else None
    )
    good = met_slo(cols, slos)
    rejected = [r.rejected for r in result.requests if r.rejected]
    summary: dict[str, Any] = {
        "requests": len(result.requests),
        "completed": int(done.sum()),
        "rejected": len(rejected),
        "rejected_reasons": sorted(set(rejected))[:5],
        "duration_s": duration,
        **_pct("ttft_ms", cols["ttft_s"]),
        **_pct("tpot_ms", cols["tpot_s"]),
        **_pct("e2e_ms", cols["e2e_s"]),
        **_pct("queue_ms", cols["queue_s"]),
        **{
            f"itl_ms_p{q}": weighted_percentile(itl_values, itl_weights, q) * 1e3
            for q in PERCENTILES
        },
        "output_tps": out_tokens / duration,
        "steady_output_tps": _steady_tps(result, cols["finish_s"][done]),
        "input_tps": in_tokens / duration,
        "requests_per_s": float(done.sum()) / duration,
        "goodput_rps": float(good.sum()) / duration,
        "slo_attainment": float(good.sum() / done.sum()) if done.any() else float("nan"),
        "busy_fraction": float(busy.mean()) if n_rep else 0.0,
        "mfu": float(np.mean(flops / (np.array([c.peak_flops for c in costing]) * duration))),
        "mbu": float(np.mean(moved / (np.array([c.memory_bw for c in costing]) * duration))),
        "kv_occupancy_mean": kv_mean,
        "kv_occupancy_max": float(occupancy.max()) if occupancy.size else 0.0,
        "preemptions": int(sum(r.preemptions for r in result.replicas)),
        "prefix_hit_rate": hits / queried if queried else 0.0,
        "replicas": n_rep,
        "chips": sum(c.chips for c in costing),
        "usd": usd,
        "usd_per_request": usd / done.sum() if usd is not None and done.any() else None,
        "usd_per_mtok_output": usd / out_tokens * 1e6 if usd is not None and out_tokens else None,
    }
    return summary


def timeline(result: RunResult, bins: int = 200) -> dict[str, FloatArray]:
    """Per time bin: output tokens/s (emitted by steps ending in the bin), mean queue length and
    mean KV occupancy (all replicas)."""
    steps = result.steps
    if not len(steps.end_s):
        empty = np.zeros(0)
        return {"time_s": empty, "output_tps": empty, "waiting": empty, "kv_occupancy": empty}
    end = steps.column("end_s")
    edges = np.linspace(0.0, float(end.max()) + 1e-9, bins + 1)
    width = edges[1] - edges[0]
    which = np.clip(np.searchsorted(edges, end, side="right") - 1, 0, bins - 1)
    count = np.maximum(np.bincount(which, minlength=bins), 1)

    def per_bin(column: str) -> FloatArray:
        return np.bincount(which, weights=steps.column(column), minlength=bins).astype(float)

    tokens, waiting, occupancy = per_bin("tokens_out"), per_bin("waiting"), per_bin("kv_occupancy")
    return {
        "time_s": (edges[:-1] + edges[1:]) / 2,
        "output_tps": tokens / width,
        "waiting": waiting / count,
        "kv_occupancy": occupancy / count,
    }
