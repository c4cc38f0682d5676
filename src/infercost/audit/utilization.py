"""Time-weighted utilization, idle and underused shares, counter rates and time bins.

A sample stands for the time until the next sample of the same series; the last one for the series'
median interval. A gap longer than `MAX_GAP_FACTOR` median intervals is missing data: the sample before
it holds one median interval and the rest of the gap counts nowhere. Shares are of device-seconds (or
replica-seconds) observed.

- GPU telemetry: idle when utilization < `idle_below` (5 %), underused when below `underused_below`
  (50 %), busy otherwise.
- Engine metrics (vLLM/SGLang): idle when no request is running or waiting; underused when fewer run
  than `underused_below` × the batch the deployment can hold (when that is known).
- Request logs: the same, with requests in flight between their start and end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from infercost._types import BoolArray, FloatArray
from infercost.audit.telemetry import Requests, Series

IDLE_BELOW = 0.05
UNDERUSED_BELOW = 0.5
MAX_GAP_FACTOR = 3.0
NICE_BINS_S = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 86400)
TARGET_BINS = 288  # a day in 5-minute bins


def hold_s(time_s: FloatArray) -> FloatArray:
    """Seconds each sample stands for (see the module docstring); zeros for a single sample."""
    t = np.asarray(time_s, dtype=float)
    if t.size < 2:
        return np.zeros_like(t)
    gaps = np.diff(t)
    positive = gaps[gaps > 0]
    if not positive.size:
        return np.zeros_like(t)
    median = float(np.median(positive))
    hold = np.append(gaps, median)
    return np.where(hold > MAX_GAP_FACTOR * median, median, hold)


@dataclass(frozen=True)
class Shares:
    """Seconds observed and the share of them idle, underused and busy; mean utilization 0–1."""

    observed_s: float
    idle: float
    underused: float | None  # None when the signal cannot tell (no capacity to compare with)
    busy: float
    mean_utilization: float | None


def _shares(
    weights: FloatArray, idle: BoolArray, underused: BoolArray | None, util: FloatArray | None
) -> Shares:
    total = float(weights.sum())
    if total <= 0:
        return Shares(0.0, float("nan"), None, float("nan"), None)
    idle_s = float(weights[idle].sum())
    under_s = float(weights[underused].sum()) if underused is not None else None
    busy_s = total - idle_s - (under_s or 0.0)
    mean = float(np.sum(weights * util) / total) if util is not None else None
    return Shares(
        observed_s=total,
        idle=idle_s / total,
        underused=None if under_s is None else under_s / total,
        busy=busy_s / total,
        mean_utilization=mean,
    )


def gpu_shares(
    devices: Sequence[tuple[FloatArray, FloatArray]],
    *,
    idle_below: float = IDLE_BELOW,
    underused_below: float = UNDERUSED_BELOW,
) -> Shares:
    """Shares over (time, utilization) series of GPUs; samples without a utilization are skipped."""
    w, u = [], []
    for time_s, util in devices:
        hold = hold_s(time_s)
        ok = np.isfinite(util)
        w.append(hold[ok])
        u.append(util[ok])
    weights = np.concatenate(w) if w else np.zeros(0)
    util = np.concatenate(u) if u else np.zeros(0)
    return _shares(
        weights,
        util < idle_below,
        (util >= idle_below) & (util < underused_below),
        util,
    )


def load_shares(
    series: Sequence[tuple[FloatArray, FloatArray]],
    *,
    capacity: float | None,
    underused_below: float = UNDERUSED_BELOW,
) -> Shares:
    """Shares over (time, requests in the server) series: idle at zero; underused below
    `underused_below` × `capacity` sequences; utilization = load ÷ capacity (capped at 1)."""
    w, n = [], []
    for time_s, load in series:
        w.append(hold_s(time_s))
        n.append(np.nan_to_num(load))
    weights = np.concatenate(w) if w else np.zeros(0)
    load = np.concatenate(n) if n else np.zeros(0)
    idle = load <= 0
    if capacity is None or capacity <= 0:
        return _shares(weights, idle, None, None)
    under = ~idle & (load < underused_below * capacity)
    return _shares(weights, idle, under, np.minimum(load / capacity, 1.0))


def in_flight(requests: Requests) -> tuple[FloatArray, FloatArray]:
    """Requests in flight as a step function: (times, count from each time to the next).

    Requests without an end time count as instantaneous (they cannot keep a server busy here)."""
    start = requests.start_s
    end = np.where(np.isfinite(requests.end_s), requests.end_s, start)
    times = np.concatenate([start, end])
    steps = np.concatenate([np.ones_like(start), -np.ones_like(end)])
    order = np.lexsort((-steps, times))  # at equal times, arrivals before departures
    t, s = times[order], np.cumsum(steps[order])
    # keep the last count at each distinct time
    last = np.append(t[1:] != t[:-1], True)
    return t[last], s[last]


def request_shares(
    requests: Requests, *, capacity: float | None, underused_below: float = UNDERUSED_BELOW
) -> Shares:
    """Shares of the window from the first request to the last end, from request logs."""
    t, count = in_flight(requests)
    if t.size < 2:
        return Shares(0.0, float("nan"), None, float("nan"), None)
    weights = np.append(np.diff(t), 0.0)
    idle = count <= 0
    if capacity is None or capacity <= 0:
        return _shares(weights, idle, None, None)
    under = ~idle & (count < underused_below * capacity)
    return _shares(weights, idle, under, np.minimum(count / capacity, 1.0))


def counter_deltas(series: Series) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(interval start, interval end, increase) of a counter; a drop is a restart from zero."""
    if len(series) < 2:
        empty = np.zeros(0)
        return empty, empty, empty
    v = series.value
    rise = np.diff(v)
    rise = np.where(rise < 0, v[1:], rise)
    return series.time_s[:-1], series.time_s[1:], rise


def counter_total(series: Series, created_s: float | None = None) -> tuple[float, float] | None:
    """(increase, seconds) over the samples; with one sample, since the counter's `_created` time
    (the server's start) when known, else None."""
    if len(series) >= 2:
        t0, t1, rise = counter_deltas(series)
        return float(rise.sum()), float(t1[-1] - t0[0])
    if len(series) == 1 and created_s is not None and series.time_s[0] > created_s:
        return float(series.value[0]), float(series.time_s[0] - created_s)
    return None


def bin_width_s(start_s: float, end_s: float, sample_s: float | None) -> float:
    """A round bin width giving about `TARGET_BINS` bins, never finer than the sampling interval."""
    span = max(end_s - start_s, 1.0)
    want = max(span / TARGET_BINS, sample_s or 0.0)
    return float(next((b for b in NICE_BINS_S if b >= want), NICE_BINS_S[-1]))


def bin_edges(start_s: float, end_s: float, width_s: float) -> FloatArray:
    first = np.floor(start_s / width_s) * width_s
    count = max(int(np.ceil((end_s - first) / width_s)), 1)
    out: FloatArray = first + width_s * np.arange(count + 1, dtype=float)
    return out


def bin_mean(edges: FloatArray, time_s: FloatArray, value: FloatArray) -> FloatArray:
    """Mean of the finite samples in each bin (nan where none)."""
    idx = np.clip(np.searchsorted(edges, time_s, side="right") - 1, 0, edges.size - 2)
    ok = np.isfinite(value)
    total = np.bincount(idx[ok], weights=value[ok], minlength=edges.size - 1)
    count = np.bincount(idx[ok], minlength=edges.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


def bin_sum(edges: FloatArray, time_s: FloatArray, value: FloatArray) -> FloatArray:
    idx = np.clip(np.searchsorted(edges, time_s, side="right") - 1, 0, edges.size - 2)
    ok = np.isfinite(value)
    out: FloatArray = np.bincount(idx[ok], weights=value[ok], minlength=edges.size - 1).astype(
        float
    )
    return out


def median_interval_s(times: Sequence[FloatArray]) -> float | None:
    gaps = [np.diff(t) for t in times if t.size > 1]
    flat = np.concatenate(gaps) if gaps else np.zeros(0)
    flat = flat[flat > 0]
    return float(np.median(flat)) if flat.size else None


def concurrent_count(spans: Sequence[tuple[float, float]]) -> int:
    """Most of these [start, end] spans active at once (how many devices or replicas ran together)."""
    if not spans:
        return 0
    events = sorted(
        [(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], -x[1])
    )
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best
