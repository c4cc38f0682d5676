"""Screening: every point of the search space through the analytical model, vectorized.

For one (weights, KV) precision, all hardware × layouts × concurrencies × chunk budgets are one
broadcast call of `perf.steady.continuous` (the continuous-batching steady state), one of
`perf.step.step_time` (the decode-only step) and the memory plan (`perf.memory.memory_plan`). From
those the screen derives, for every point, the capacity of one replica at the SLO and the replicas
the load needs; nothing here re-derives a step time or a cost formula.

Percentile estimates (q = the SLO percentile, z its normal quantile) at concurrency B per replica:

* TPOT — a request's TPOT is the mean step over its decode steps. Steps carry on average
  `a = B/osl · isl` prompt tokens (the `continuous` steady state), each costing
  `k = (mixed step − decode step) / a` seconds. Over n steps the prompt tokens carried form a
  compound Poisson sum, so the per-step mean has standard deviation `sqrt(B/osl · E[isl²] / n)`.
  Hence TPOT_q = decode step + k · min(room, a + sqrt(B/osl · E[isl²]) · t_q), where t_q is the
  q-th percentile of Z/sqrt(n − 1) over the workload's output lengths (Monte Carlo, fixed seed) and
  `room` (budget − decode tokens) caps what one step can carry.
* TTFT — one step in flight, then the prompt queue: prompt tokens are served at `room` per step with
  utilization ρ = a/room; the M/M/1 waiting-time quantile S·ln(ρ/(1 − q))/(1 − ρ) (S = mean prompt ÷
  room, in steps) scaled by Kingman's (1 + cv²)/2 for bursty arrivals; then ceil(isl_q / room)
  steps of its own prefill, plus the per-request overhead.
* Slots — sequences in flight are Poisson around B (M/G/∞), so B + z·sqrt(B)·max(cv, 1) must fit
  max_num_seqs and the KV cache (at the time-weighted tokens a running request holds).

Per-replica capacity = the largest request rate B/(step·osl) whose point meets every target;
replicas = ceil(load · (1 + headroom) / capacity). Reported latencies are interpolated at the
operating concurrency (load ÷ replicas). Disaggregated: the decode pool is sized the same way with
decode-only steps (TPOT = the decode step); the prefill pool runs full budget steps
(`perf.steady.batched_prefill_time`) as an M/M/1 queue per replica and is the smallest count whose
TTFT_q (wait + ceil(isl_q/budget) steps + KV hand-off over the chips' link + one decode step) meets
the target. Dollars: `econ.cost.usd_per_mtok` at the offered load.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields, replace
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy.special import gammaincc, gammaln

from infercost import catalog
from infercost._types import FloatArray
from infercost.econ.cost import usd_per_mtok
from infercost.errors import InfercostError
from infercost.perf.efficiency import EfficiencyProfile
from infercost.perf.memory import memory_plan
from infercost.perf.resources import Layout, Resources, resources_for
from infercost.perf.steady import batched_prefill_time, continuous
from infercost.perf.step import decode_micro_batch, step_time
from infercost.plan.space import Mode, PlanRequest, PricedHardware, Space, usable_hardware
from infercost.sim.workload import (
    ConstantArrival,
    CurveArrival,
    GammaArrival,
    PoissonArrival,
    generate,
)
from infercost.specs.model import ModelSpec
from infercost.specs.parallelism import Parallelism

SAMPLE_REQUESTS = 20000  # requests drawn from the workload to measure its lengths and rate
TAIL_DRAWS = 200_000  # normal draws for the TPOT tail factor (Monte Carlo, fixed seed)
MAX_EXTRA_PREFILL = 64  # prefill replicas searched above the throughput minimum
Columns = dict[str, np.ndarray[Any, Any]]


class InfeasibleError(InfercostError):
    """Nothing in the search meets the SLO; the message names the closest candidate."""

    def __init__(self, message: str) -> None:
        super().__init__("slo", None, message)
        self.args = (message,)


# --- the load -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """What the screen needs to know about the workload (tokens, requests/s, seconds)."""

    rate_rps: float  # requests per second to size for (the peak for a daily curve)
    cv: float  # coefficient of variation of the gaps between arrivals (1: Poisson)
    isl_mean: float
    isl_sq_mean: float  # E[isl²]
    isl_q: float  # prompt length at the SLO percentile
    osl_mean: float
    osl_q: float
    held_tokens: float  # tokens a running request holds, time-weighted (memory per slot)
    longest_tokens: float  # longest prompt + output drawn
    tpot_tail: float  # q-th percentile of Z/sqrt(n − 1) over output lengths n
    percentile: float
    ttft_s: float  # binding targets (inf when none)
    tpot_s: float
    e2e_s: float

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(self.percentile / 100.0)

    @property
    def burst(self) -> float:
        """Kingman's factor on queueing delay relative to Poisson arrivals."""
        return (1.0 + self.cv**2) / 2.0

    def targets(self) -> str:
        parts = [
            f"{name} ≤ {value * 1e3:g} ms"
            for name, value in (("TTFT", self.ttft_s), ("TPOT", self.tpot_s), ("E2E", self.e2e_s))
            if math.isfinite(value)
        ]
        return f"p{self.percentile:g} " + ", ".join(parts)


def load_profile(request: PlanRequest, seed: int | None = None) -> Load:
    """Rate, length moments and quantiles, and the binding SLO, from a seeded sample."""
    workload = request.workload
    sample = list(itertools.islice(generate(workload, seed=seed), SAMPLE_REQUESTS))
    if len(sample) < 2:
        raise InfercostError("workload", len(sample), "must produce at least 2 requests to plan")
    isl = np.array([r.prompt_tokens for r in sample], dtype=float)
    osl = np.array([r.output_tokens for r in sample], dtype=float)
    firsts = np.array([r.arrival_s for r in sample if r.turn == 0])
    per_arrival = len(sample) / max(len(firsts), 1)
    arrival = workload.arrival
    if isinstance(arrival, PoissonArrival | ConstantArrival | GammaArrival):
        rate = arrival.rate_rps * per_arrival
        cv = (
            arrival.cv
            if isinstance(arrival, GammaArrival)
            else (0.0 if isinstance(arrival, ConstantArrival) else 1.0)
        )
    elif isinstance(arrival, CurveArrival):
        rate, cv = arrival.peak_rps * per_arrival, 1.0
    else:  # a trace: its mean rate and burstiness over the sample
        span = float(firsts.max() - firsts.min()) if firsts.size > 1 else 0.0
        if span <= 0:
            raise InfercostError("workload.arrival", "trace", "needs arrivals spread over time")
        rate = (firsts.size - 1) / span * per_arrival
        gaps = np.diff(np.sort(firsts))
        cv = float(gaps.std() / gaps.mean()) if gaps.mean() > 0 else 1.0

    slos = list(request.class_slos().values())
    pct = max(s.percentile for s in slos)

    def target(name: str) -> float:
        values = [getattr(s, name) for s in slos if getattr(s, name) is not None]
        return min(values) / 1e3 if values else math.inf

    steps = np.maximum(osl - 1.0, 1.0)
    copies = max(1, -(-TAIL_DRAWS // osl.size))  # enough normal draws for a steady quantile
    z = np.random.default_rng(0).standard_normal((copies, osl.size))
    tail = float(np.percentile(z / np.sqrt(steps), pct))
    return Load(
        rate_rps=float(rate),
        cv=float(cv),
        isl_mean=float(isl.mean()),
        isl_sq_mean=float(np.mean(isl**2)),
        isl_q=float(np.percentile(isl, pct)),
        osl_mean=float(osl.mean()),
        osl_q=float(np.percentile(osl, pct)),
        held_tokens=float(np.sum(osl * (isl + osl / 2.0)) / np.sum(osl)),
        longest_tokens=float(np.max(isl + osl)),
        tpot_tail=max(tail, 0.0),
        percentile=float(pct),
        ttft_s=target("ttft_ms"),
        tpot_s=target("tpot_ms"),
        e2e_s=target("e2e_ms"),
    )


# --- one precision --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenTask:
    """All hardware × layouts × scheduler limits × modes of one (weights, KV) precision."""

    model: ModelSpec
    hardware: tuple[PricedHardware, ...]
    layouts: tuple[Parallelism, ...]
    weights: str
    kv: str
    max_num_seqs: tuple[int, ...]
    chunks: tuple[int, ...]
    modes: tuple[Mode, ...]
    engine: str
    memory_utilization: float
    load: Load
    headroom: float
    efficiency: EfficiencyProfile
    max_replicas: int


def concurrency_grid(limit: int) -> FloatArray:
    """1 … limit in steps of about 2^(1/4), whole numbers."""
    steps = math.ceil(4 * math.log2(max(limit, 1))) + 1
    values = np.unique(np.round(2.0 ** (np.arange(steps) / 4.0)))
    grid: FloatArray = np.unique(np.append(values[values <= limit], float(limit)))
    return grid


def _along(res: Resources, ndim: int) -> Resources:
    """Hardware arrays of shape (H,) → (H, 1, …, 1) so they broadcast against the other axes."""

    def shaped(v: Any) -> Any:
        if isinstance(v, np.ndarray) and v.ndim == 1:
            return v.reshape((-1,) + (1,) * (ndim - 1))
        return v

    changes: dict[str, Any] = {
        f.name: shaped(getattr(res, f.name)) for f in fields(res) if f.name != "offload_tiers"
    }
    changes["offload_tiers"] = tuple((shaped(c), shaped(b)) for c, b in res.offload_tiers)
    return replace(res, **changes)


def _interpolate(
    rps: FloatArray, target: FloatArray, metrics: dict[str, FloatArray]
) -> dict[str, FloatArray]:
    """Metrics along axis 2 (concurrency) at the rate `target` (linear between grid points)."""
    grid = np.maximum.accumulate(rps, axis=2)
    idx = np.clip(np.sum(grid < target[:, :, None], axis=2), 0, rps.shape[2] - 1)
    hi = idx[:, :, None]
    lo = np.maximum(hi - 1, 0)
    r_hi = np.take_along_axis(grid, hi, 2)[:, :, 0]
    r_lo = np.where(idx > 0, np.take_along_axis(grid, lo, 2)[:, :, 0], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(r_hi > r_lo, (target - r_lo) / (r_hi - r_lo), 1.0), 0.0, 1.0)
    out = {}
    for name, m in metrics.items():
        full = np.broadcast_to(m, rps.shape)
        m_hi = np.take_along_axis(full, hi, 2)[:, :, 0]
        m_lo = np.where(idx > 0, np.take_along_axis(full, lo, 2)[:, :, 0], m_hi)
        out[name] = m_lo + t * (m_hi - m_lo)
    return out


def screen_task(task: ScreenTask) -> Columns:
    """One row per hardware × layout × chunk × max_num_seqs × mode (see the module docstring)."""
    ld = task.load
    model = task.model
    precision = catalog.precision(task.weights, task.kv)
    profile = task.efficiency
    hws = [p.hardware for p in task.hardware]
    res = _along(
        resources_for(hws, precision, [profile.resolve(h.family, task.engine) for h in hws]), 4
    )
    H, L = len(hws), len(task.layouts)
    lay = Layout.grid(
        *(
            np.array([getattr(p, a) for p in task.layouts], dtype=float).reshape(1, L, 1, 1)
            for a in ("tp", "pp", "dp", "ep")
        )
    )
    chips = lay.chips  # (1, L, 1, 1)
    grid = concurrency_grid(max(task.max_num_seqs))
    b = grid.reshape(1, 1, -1, 1)
    chunks = np.array(task.chunks, dtype=float)
    c = chunks.reshape(1, 1, 1, -1)
    seqs = np.array(task.max_num_seqs, dtype=float)
    q = ld.percentile / 100.0

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # memory: weights, KV room and the slots it holds, per chunk budget (activation workspace)
        plans = [
            memory_plan(
                model,
                res,
                lay,
                context=ld.held_tokens,
                memory_utilization=task.memory_utilization,
                max_batched_tokens=int(ch),
            )
            for ch in task.chunks
        ]
        kv_tokens = np.concatenate(
            [np.broadcast_to(p.kv_capacity_tokens, (H, L, 1, 1)) for p in plans], axis=3
        )
        kv_free = np.concatenate(
            [np.broadcast_to(p.kv_free_bytes, (H, L, 1, 1)) for p in plans], axis=3
        )
        memory_ok = (kv_free > 0) & (kv_tokens >= ld.longest_tokens)
        mem_slots = kv_tokens / ld.held_tokens

        # aggregated: the continuous-batching steady state and its decode-only step
        run = continuous(model, res, lay, concurrency=b, isl=ld.isl_mean, osl=ld.osl_mean, budget=c)
        micro = decode_micro_batch(b, lay.pp)
        decoding = step_time(
            model, res, lay, decode_seqs=micro, decode_context=ld.isl_mean + ld.osl_mean / 2.0
        ).total
        step = np.asarray(run.tpot_s, dtype=float)
        carried = micro / ld.osl_mean * ld.isl_mean  # prompt tokens per step, on average
        per_token = np.maximum(step - decoding, 0.0) / carried
        room = c - micro
        spread = np.sqrt(micro / ld.osl_mean * ld.isl_sq_mean) * ld.tpot_tail
        tpot_at_b = decoding + per_token * np.minimum(np.maximum(room, 0.0), carried + spread)
        # the batch a request lives in is itself Poisson around B: take its upper quantile
        busy_b = grid + ld.z * np.sqrt(grid) * max(ld.cv, 1.0)
        tpot_q = _along_grid(tpot_at_b, grid, busy_b)
        # prompts queue (first come, first served) for the budget left after the decodes; a
        # prompt's service is its tokens' share of the step, plus a decode step for every extra
        # chunk when it is longer than the room
        service = ld.isl_mean * per_token + decoding * np.maximum(ld.isl_mean / room - 1.0, 0.0)
        rho = b / (step * ld.osl_mean) * service
        wait = _queue_wait(rho, service, q) * ld.burst
        own = np.ceil(ld.isl_q / room) * decoding + per_token * ld.isl_q
        ttft_q = (
            res.request_overhead_s + step + wait + own
        )  # the step in flight, the queue, its own
        e2e_q = ttft_q + step * max(ld.osl_q - 1.0, 0.0)
        rps = b / (step * ld.osl_mean)
        usable = np.isfinite(step) & np.isfinite(tpot_q) & (room > 0) & (rho < 1) & memory_ok
        ratio = np.maximum.reduce([ttft_q / ld.ttft_s, tpot_q / ld.tpot_s, e2e_q / ld.e2e_s])
        agg = _size(
            task,
            rps=rps,
            latency_ok=usable & (ratio <= 1.0),
            ratio=np.where(usable, ratio, np.inf),
            metrics={"ttft": ttft_q, "tpot": tpot_q, "e2e": e2e_q, "batch": b + 0.0 * rps},
            b=b,
            c=c,
            seqs=seqs,
            mem_slots=mem_slots,
            bound_checks=(
                ("tpot", tpot_q > ld.tpot_s),
                ("ttft", (ttft_q > ld.ttft_s) | (rho >= 1) | (room <= 0)),
                ("e2e", e2e_q > ld.e2e_s),
            ),
        )

        # disaggregated: a decode pool of decode-only steps, a prefill pool of budget-sized steps
        dis = None
        if "disaggregated" in task.modes:
            d_rps = b / (decoding * ld.osl_mean)
            d_usable = np.isfinite(decoding) & memory_ok
            d_tpot = _along_grid(decoding, grid, busy_b)
            d_ratio = d_tpot / ld.tpot_s
            dis = _size(
                task,
                rps=d_rps,
                latency_ok=d_usable & (d_ratio <= 1.0),
                ratio=np.where(d_usable, d_ratio, np.inf),
                metrics={"tpot": d_tpot, "batch": b + 0.0 * decoding},
                b=b,
                c=c,
                seqs=seqs,
                mem_slots=mem_slots,
                bound_checks=(("tpot", d_tpot > ld.tpot_s),),
            )
            prefill = _prefill_pool(task, res, lay, c, memory_ok, dis)

    rows = []
    for mode in task.modes:
        if mode == "aggregated":
            rows.append(_rows(task, "aggregated", agg, chips, chunks, seqs, None))
        elif dis is not None:
            rows.append(_rows(task, "disaggregated", dis, chips, chunks, seqs, prefill))
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def _along_grid(values: FloatArray, grid: FloatArray, at: FloatArray) -> FloatArray:
    """`values` (concurrency on axis 2, sampled at `grid`) read at concurrencies `at`, linearly;
    past the grid's end the last value is kept."""
    hi = np.clip(np.searchsorted(grid, at), 1, grid.size - 1)
    lo = hi - 1
    t = np.clip((at - grid[lo]) / (grid[hi] - grid[lo]), 0.0, 1.0).reshape(1, 1, -1, 1)
    out: FloatArray = values[:, :, lo, :] * (1.0 - t) + values[:, :, hi, :] * t
    return out


def _queue_wait(rho: FloatArray, service_s: FloatArray, q: float) -> FloatArray:
    """q-quantile of the M/M/1 waiting time: P(W > t) = ρ·exp(−(1 − ρ)·t / S)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(
            rho > 1.0 - q, service_s * np.log(rho / (1.0 - q)) / (1.0 - rho), 0.0
        )
    return out


def _pooled_wait(
    servers: FloatArray, offered: FloatArray, service_s: FloatArray, rate: float, q: float
) -> FloatArray:
    """q-quantile of the M/M/c waiting time: P(W > t) = C(c, A)·exp(−(c/S − λ)·t), with c servers
    and A = λ·S Erlangs offered. Erlang B is the Poisson pmf over its cdf at c (A^c/c! over
    Σ_k≤c A^k/k!), from the log-gamma and the regularized incomplete gamma: no loop over c."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        c, a = np.broadcast_arrays(servers, offered)
        log_pmf = c * np.log(a) - a - gammaln(c + 1.0)
        erlang_b = np.exp(log_pmf) / gammaincc(c + 1.0, a)
        waits = c * erlang_b / (c - a * (1.0 - erlang_b))  # Erlang C: probability of waiting
        drain = c / service_s - rate
        out: FloatArray = np.where(
            (a < c) & (waits > 1.0 - q), np.log(waits / (1.0 - q)) / drain, 0.0
        )
        out = np.where(a < c, out, np.inf)
    return out


def _size(
    task: ScreenTask,
    *,
    rps: FloatArray,
    latency_ok: np.ndarray[Any, Any],
    ratio: FloatArray,
    metrics: dict[str, FloatArray],
    b: FloatArray,
    c: FloatArray,
    seqs: FloatArray,
    mem_slots: FloatArray,
    bound_checks: tuple[tuple[str, np.ndarray[Any, Any]], ...],
) -> dict[str, Any]:
    """Per max_num_seqs: capacity per replica, replicas for the load, metrics at the load, and
    what stops a replica from taking more (the first check failing one grid step further)."""
    ld = task.load
    shape = np.broadcast_shapes(rps.shape, latency_ok.shape, ratio.shape, c.shape)  # (H, L, B, C)
    rps = np.broadcast_to(rps, shape)
    need = b + ld.z * np.sqrt(b) * max(ld.cv, 1.0)  # slots at the percentile (M/G/∞)
    out: dict[str, list[Any]] = {}

    def at(values: Any, index: np.ndarray[Any, Any]) -> Any:
        return np.take_along_axis(np.broadcast_to(values, shape), index[:, :, None], 2)[:, :, 0]

    best_ratio = np.min(np.broadcast_to(ratio, shape), axis=2)
    pick = np.argmin(np.broadcast_to(ratio, shape), axis=2)
    closest = {k: at(v, pick) for k, v in metrics.items()}
    for m in seqs:
        ok = latency_ok & (b <= m) & (need <= np.minimum(m, mem_slots)) & (c >= m)
        cap_by_b = np.where(ok, rps, 0.0)
        best = np.argmax(cap_by_b, axis=2)  # (H, L, C)
        cap = at(cap_by_b, best)
        replicas = np.where(cap > 0, np.ceil(ld.rate_rps * (1.0 + task.headroom) / cap), 0.0)
        target = np.where(replicas > 0, ld.rate_rps / np.maximum(replicas, 1.0), 0.0)
        op = _interpolate(rps, target, metrics)
        nxt = np.minimum(best + 1, shape[2] - 1)
        checks = [
            ("max_num_seqs", (best + 1 >= shape[2]) | (at(b, nxt) > m) | (at(need, nxt) > m)),
            ("kv memory", at(need, nxt) > at(mem_slots, nxt)),
            *((name, at(failed, nxt)) for name, failed in bound_checks),
        ]
        bound = np.full(cap.shape, "max_num_seqs", dtype=object)
        for name, hit in reversed(checks):  # the first failing check wins
            bound = np.where(hit, name, bound)
        bound = np.where(cap > 0, bound, "none")
        for key, value in (
            ("capacity_rps", cap),
            ("replicas", replicas),
            ("bound", bound),
            ("violation", best_ratio),
            *((f"op_{k}", v) for k, v in op.items()),
            *((f"closest_{k}", v) for k, v in closest.items()),
        ):
            out.setdefault(key, []).append(value)
    return {k: np.stack(v, axis=-1) for k, v in out.items()}  # (H, L, C, M)


def _prefill_pool(
    task: ScreenTask,
    res: Resources,
    lay: Layout,
    c: FloatArray,
    memory_ok: np.ndarray[Any, Any],
    decode: dict[str, Any],
) -> dict[str, FloatArray]:
    """Prefill replicas (smallest count meeting TTFT_q) for each hardware × layout × chunk × seqs."""
    ld = task.load
    q = ld.percentile / 100.0
    prompts = np.maximum(c / ld.isl_mean, 1.0)  # a full budget of prompts (at least one)
    total_s = batched_prefill_time(task.model, res, lay, prompts=prompts, isl=ld.isl_mean, budget=c)
    step_s = total_s / np.maximum(np.ceil(prompts * ld.isl_mean / c), 1.0)  # one budget step
    tok_rate = prompts * ld.isl_mean / total_s  # prompt tokens/s of one prefill replica
    floor = np.ceil(ld.rate_rps * ld.isl_mean * (1.0 + task.headroom) / tok_rate)
    extra = np.arange(MAX_EXTRA_PREFILL, dtype=float).reshape(1, 1, -1, 1)
    pool = np.maximum(floor, 1.0) + extra  # (H, L, E, C)
    service = ld.isl_mean / tok_rate
    rho = ld.rate_rps * service / pool
    # the router sends each prompt to the prefill replica with the fewest outstanding: one
    # pooled queue over the pool (M/M/P, Erlang C)
    wait = _pooled_wait(pool, ld.rate_rps * service, service, ld.rate_rps, q) * ld.burst
    link = (
        np.array(
            [
                p.hardware.scale_out_bytes_per_s or p.hardware.scale_up_bytes_per_s or np.nan
                for p in task.hardware
            ],
            dtype=float,
        ).reshape(-1, 1, 1, 1)
        * lay.chips
    )
    kv_bytes = task.model.kv_bytes_per_token(
        catalog.precision(task.weights, task.kv).kv.bytes_per_element
    )
    handoff = kv_bytes * ld.isl_q / link
    own = np.ceil(ld.isl_q / c) * step_s
    base = res.request_overhead_s + wait + own + handoff  # (H, L, E, C)
    decode_step = decode["op_tpot"]  # (H, L, C, M)
    ttft = base[:, :, :, :, None] + decode_step[:, :, None, :, :]  # (H, L, E, C, M)
    e2e = ttft + decode_step[:, :, None, :, :] * max(ld.osl_q - 1.0, 0.0)
    ok = (
        (ttft <= ld.ttft_s)
        & (e2e <= ld.e2e_s)
        & (rho < 1)[..., None]
        & np.isfinite(ttft)
        & memory_ok[:, :, :, :, None]
    )
    first = np.argmax(ok, axis=2)
    found = np.take_along_axis(ok, first[:, :, None], 2)[:, :, 0]
    pool_full = np.broadcast_to(pool[..., None], ok.shape)
    count = np.where(found, np.take_along_axis(pool_full, first[:, :, None], 2)[:, :, 0], 0.0)
    ttft_at = np.take_along_axis(ttft, first[:, :, None], 2)[:, :, 0]
    e2e_at = np.take_along_axis(e2e, first[:, :, None], 2)[:, :, 0]
    fastest = np.min(np.where(np.isfinite(ttft), ttft, np.inf), axis=2)  # the most prefill replicas
    return {
        "replicas": count,
        "ttft": ttft_at,
        "e2e": e2e_at,
        "ttft_ratio": fastest / ld.ttft_s,
        "fastest_ttft": fastest,
    }


def _rows(
    task: ScreenTask,
    mode: Mode,
    sized: dict[str, Any],
    chips: FloatArray,
    chunks: FloatArray,
    seqs: FloatArray,
    prefill: dict[str, FloatArray] | None,
) -> Columns:
    ld = task.load
    shape = sized["replicas"].shape  # (H, L, C, M)
    hw_ids = np.array([p.hardware.id for p in task.hardware], dtype=object)
    price = np.array([p.usd_per_chip_hour for p in task.hardware], dtype=float)

    def axis(values: Any, at: int) -> np.ndarray[Any, Any]:
        arr = np.asarray(values)
        dims = [1, 1, 1, 1]
        dims[at] = -1
        return np.broadcast_to(arr.reshape(dims), shape)

    n_chips = axis(chips.reshape(-1), 1)
    decode_n = sized["replicas"]
    if prefill is None:
        prefill_n = np.zeros(shape)
        ttft, tpot, e2e = sized["op_ttft"], sized["op_tpot"], sized["op_e2e"]
        ok = decode_n > 0
        violation = sized["violation"]
        closest_ttft, closest_tpot = sized["closest_ttft"], sized["closest_tpot"]
    else:
        prefill_n = prefill["replicas"]
        ttft, tpot, e2e = prefill["ttft"], sized["op_tpot"], prefill["e2e"]
        ok = (decode_n > 0) & (prefill_n > 0)
        violation = np.maximum(sized["violation"], prefill["ttft_ratio"])
        closest_ttft = prefill["fastest_ttft"]
        closest_tpot = sized["closest_tpot"]
    replicas = np.where(ok, decode_n + prefill_n, 0.0)
    too_many = replicas > task.max_replicas
    feasible = ok & ~too_many
    p = axis(price, 0)
    usd_hour = replicas * n_chips * p
    with np.errstate(invalid="ignore", divide="ignore"):
        usd_mtok = usd_per_mtok(p, replicas * n_chips, 1.0, ld.rate_rps * ld.osl_mean)
        capacity = sized["capacity_rps"] * decode_n
        headroom = np.where(feasible, capacity / ld.rate_rps - 1.0, np.nan)
    nan = np.nan
    cols: dict[str, Any] = {
        "hardware": axis(hw_ids, 0),
        "usd_per_chip_hour": p,
        "weights": np.full(shape, task.weights, dtype=object),
        "kv": np.full(shape, task.kv, dtype=object),
        "chips_per_replica": n_chips,
        "tp": axis([lp.tp for lp in task.layouts], 1),
        "pp": axis([lp.pp for lp in task.layouts], 1),
        "ep": axis([lp.ep for lp in task.layouts], 1),
        "mode": np.full(shape, mode, dtype=object),
        "max_num_seqs": axis(seqs, 3),
        "chunk": axis(chunks, 2),
        "feasible": feasible,
        "replicas": replicas,
        "prefill_replicas": prefill_n,
        "decode_replicas": np.where(ok, decode_n, 0.0) * (prefill is not None),
        "usd_per_hour": np.where(feasible, usd_hour, nan),
        "usd_per_mtok_output": np.where(feasible, usd_mtok, nan),
        "ttft_ms_p99": np.where(feasible, ttft * 1e3, nan),
        "tpot_ms_p99": np.where(feasible, tpot * 1e3, nan),
        "e2e_ms_p99": np.where(feasible, e2e * 1e3, nan),
        "batch_per_replica": np.where(feasible, sized["op_batch"], nan),
        "capacity_rps_per_replica": np.where(feasible, sized["capacity_rps"], nan),
        "headroom": headroom,
        "bound": np.where(too_many, "max_replicas", sized["bound"]),
        "violation": violation,
        "closest_ttft_ms": closest_ttft * 1e3,
        "closest_tpot_ms": closest_tpot * 1e3,
    }
    flat = {k: np.broadcast_to(v, shape).reshape(-1) for k, v in cols.items()}
    for k in ("chips_per_replica", "tp", "pp", "ep", "max_num_seqs", "chunk"):
        flat[k] = flat[k].astype(np.int64)
    for k in ("replicas", "prefill_replicas", "decode_replicas"):
        flat[k] = np.nan_to_num(flat[k]).astype(np.int64)
    return flat


# --- the whole space ------------------------------------------------------------------------------


def screen_tasks(space: Space, load: Load, headroom: float, max_replicas: int) -> list[ScreenTask]:
    """One task per (weights, KV) precision, over the hardware that can run it."""
    tasks = []
    for weights, kv in space.precisions:
        hws = usable_hardware(space, weights, kv)
        if not hws:
            continue
        tasks.append(
            ScreenTask(
                model=space.model,
                hardware=tuple(hws),
                layouts=space.layouts,
                weights=weights,
                kv=kv,
                max_num_seqs=space.max_num_seqs,
                chunks=space.chunks,
                modes=space.modes,
                engine=space.engine,
                memory_utilization=space.memory_utilization,
                load=load,
                headroom=headroom,
                max_replicas=max_replicas,
                efficiency=space.efficiency,
            )
        )
    if not tasks:
        raise InfercostError(
            "search.weights", [p[0] for p in space.precisions], "no searched hardware can run them"
        )
    return tasks


def merge(parts: list[Columns]) -> Columns:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


CANDIDATE_KEY = ("hardware", "weights", "kv", "chips_per_replica", "tp", "pp", "ep", "mode")


def rank(table: Columns) -> list[dict[str, Any]]:
    """Feasible points, cheapest first, one per deployment (its best max_num_seqs and chunk)."""
    idx = np.flatnonzero(table["feasible"])
    order = sorted(
        idx,
        key=lambda i: (
            float(table["usd_per_hour"][i]),
            float(table["tpot_ms_p99"][i]),
            float(table["ttft_ms_p99"][i]),
            *(str(table[k][i]) for k in CANDIDATE_KEY),
            int(table["max_num_seqs"][i]),
            int(table["chunk"][i]),
        ),
    )
    seen: set[tuple[str, ...]] = set()
    out = []
    for i in order:
        key = tuple(str(table[k][i]) for k in CANDIDATE_KEY)
        if key in seen:
            continue
        seen.add(key)
        out.append({k: _py(v[i]) for k, v in table.items()})
    return out


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def describe(row: dict[str, Any]) -> str:
    """'4× h100-sxm (tp 4, pp 1) fp8/bf16' — a deployment in one phrase."""
    layout = f"tp {row['tp']}, pp {row['pp']}" + (f", ep {row['ep']}" if row["ep"] > 1 else "")
    mode = " disaggregated" if row["mode"] == "disaggregated" else ""
    return (
        f"{row['chips_per_replica']}× {row['hardware']} ({layout}) "
        f"{row['weights']} weights / {row['kv']} KV{mode}"
    )


def infeasible(table: Columns, load: Load, space: Space) -> InfeasibleError:
    """The one-line message when nothing in the screen meets the SLO."""
    violation = table["violation"]
    if not np.any(np.isfinite(violation)):
        return InfeasibleError(
            f"infeasible: {space.model.id} with its longest request ({load.longest_tokens:.0f} "
            "tokens) fits no searched deployment (weights + KV cache); allow more chips per "
            "replica or smaller formats"
        )
    i = int(np.nanargmin(np.where(np.isfinite(violation), violation, np.nan)))
    row = {k: _py(v[i]) for k, v in table.items()}
    misses = []
    ttft, tpot = row["closest_ttft_ms"], row["closest_tpot_ms"]
    if ttft > load.ttft_s * 1e3:
        misses.append(f"p{load.percentile:g} TTFT {ttft:.0f} ms > {load.ttft_s * 1e3:g} ms")
    if tpot > load.tpot_s * 1e3:
        misses.append(f"p{load.percentile:g} TPOT {tpot:.1f} ms > {load.tpot_s * 1e3:g} ms")
    if not misses and violation[i] > 1:
        misses.append(f"p{load.percentile:g} E2E over {load.e2e_s * 1e3:g} ms")
    if not misses:
        misses.append(f"it meets the latency targets only below the load: {row['bound']} limits it")
    return InfeasibleError(
        f"infeasible: nothing meets {load.targets()}; closest: {describe(row)} "
        f"reaches {'; '.join(misses)}"
    )
