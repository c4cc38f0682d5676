"""Figures read off engine metrics: load, histogram means, counter totals, the batch cap, vLLM's
cache configuration."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from infercost._types import FloatArray
from infercost.audit import utilization as U
from infercost.audit.telemetry import Replica, Series, Telemetry

CAP_SHARE = 0.9  # running within 10 % of its peak while requests wait: a batch cap
KV_ROOM = 0.9  # below this KV usage there was room for more sequences


def load_of(replica: Replica) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    """(time, running + waiting) of a replica."""
    running = replica.gauges.get("running")
    if running is None or len(running) == 0:
        return None
    waiting = replica.gauges.get("waiting")
    load = running.value.copy()
    if waiting is not None and len(waiting):
        load = load + np.interp(running.time_s, waiting.time_s, waiting.value)
    return running.time_s, load


def spans_of(series: Sequence[Series | np.ndarray[Any, Any]]) -> tuple[float, float] | None:
    times = [s.time_s if isinstance(s, Series) else s for s in series]
    times = [t for t in times if t.size]
    if not times:
        return None
    return float(min(t.min() for t in times)), float(max(t.max() for t in times))


def hist_mean(replicas: Sequence[Replica], meaning: str) -> tuple[float | None, bool]:
    """Mean of a histogram over the window (Δsum ÷ Δcount); when nothing was observed in the
    window (one scrape, or no request finished), since the server started — and says so."""
    total = count = since_total = since_count = 0.0
    for r in replicas:
        pair = r.histograms.get(meaning)
        if pair is None or not len(pair[0]) or not len(pair[1]):
            continue
        s, c = pair
        since_total += float(s.value[-1])
        since_count += float(c.value[-1])
        ds, dc = U.counter_total(s), U.counter_total(c)
        if ds is not None and dc is not None:
            total, count = total + ds[0], count + dc[0]
    if count > 0:
        return total / count, False
    if since_count > 0:
        return since_total / since_count, True
    return None, False


def hist_total(replicas: Sequence[Replica], meaning: str) -> float | None:
    values = []
    for r in replicas:
        pair = r.histograms.get(meaning)
        if pair is None:
            continue
        got = U.counter_total(pair[0])
        values.append(got[0] if got else float(pair[0].value[-1]))
    return sum(values) if values else None


def counter_sum(replicas: Sequence[Replica], meaning: str) -> float | None:
    totals = []
    for r in replicas:
        series = r.counters.get(meaning)
        if series is None:
            continue
        got = U.counter_total(series, r.created_s.get(meaning))
        totals.append(got[0] if got else float(series.value[-1]))
    return sum(totals) if totals else None


def batch_cap(replicas: Sequence[Replica], peak: float | None) -> int | None:
    """The batch cap, when requests waited while running sat at its peak and the KV cache had room."""
    if not peak or peak < 1:
        return None
    for r in replicas:
        running, waiting = r.gauges.get("running"), r.gauges.get("waiting")
        if running is None or waiting is None or not len(waiting):
            continue
        queued = np.interp(running.time_s, waiting.time_s, waiting.value) > 0
        at_peak = running.value >= CAP_SHARE * float(running.value.max())
        hit = queued & at_peak
        kv = r.gauges.get("kv_usage")
        if kv is not None and len(kv):
            hit &= np.interp(running.time_s, kv.time_s, kv.value) < KV_ROOM
        if hit.any():
            return round(float(running.value.max()))
    return None


def as_float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "", "None") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def engine_kv_tokens(info: dict[str, str]) -> float | None:
    tokens = as_float(info.get("kv_cache_size_tokens"))
    if tokens is not None:
        return tokens
    blocks, size = as_float(info.get("num_gpu_blocks")), as_float(info.get("block_size"))
    return blocks * size if blocks is not None and size is not None else None


@contextmanager
def quiet_nan() -> Iterator[None]:
    """Silence numpy's 'mean of empty slice' for bins no series covers (they stay nan)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass(frozen=True)
class Output:
    """Output tokens made in the window, their mean rate, and the rate per time bin."""

    tokens: float | None
    mean_tps: float | None
    rate_bins: FloatArray | None  # nan where no sample covers the bin
    note: str = ""


def achieved_output(tel: Telemetry, edges: FloatArray, width_s: float) -> Output:
    """From the engines' generation-token counters (all replicas), else the request logs.

    A counter's rise over an interval is booked to the bin of the interval's midpoint; with one
    scrape only, the mean since the counter was created (the server's start) when that is known."""
    gen = [
        (r, r.counters["generation_tokens"])
        for r in tel.replicas
        if "generation_tokens" in r.counters
    ]
    if any(len(s) >= 2 for _, s in gen):
        rise_bins = np.zeros(edges.size - 1)
        covered = np.zeros(edges.size - 1, dtype=bool)
        tokens = 0.0
        for _, s in gen:
            t0, t1, rise = U.counter_deltas(s)
            tokens += float(rise.sum())
            rise_bins += U.bin_sum(edges, (t0 + t1) / 2.0, rise)
            covered |= U.bin_sum(edges, (t0 + t1) / 2.0, np.ones_like(rise)) > 0
        span = spans_of([s for _, s in gen])
        mean = tokens / (span[1] - span[0]) if span and span[1] > span[0] else None
        return Output(tokens, mean, np.where(covered, rise_bins / width_s, np.nan))
    if gen:
        totals = [U.counter_total(s, r.created_s.get("generation_tokens")) for r, s in gen]
        if not all(t is not None for t in totals):
            return Output(None, None, None)
        return Output(
            sum(t[0] for t in totals if t),
            sum(t[0] / t[1] for t in totals if t and t[1] > 0),
            None,
            "one scrape: throughput is the mean since the server started",
        )
    reqs = tel.requests
    if len(reqs):
        when = np.where(np.isfinite(reqs.end_s), reqs.end_s, reqs.start_s)
        tokens = float(np.nansum(reqs.completion_tokens))
        start, end = tel.start_s or 0.0, tel.end_s or 0.0
        return Output(
            tokens,
            tokens / (end - start) if end > start else None,
            U.bin_sum(edges, when, reqs.completion_tokens) / width_s,
        )
    return Output(None, None, None)
