"""The latency-vs-cost frontier of one deployment: sweep the decode batch, price every point.

Cost per output token is the decode step time ÷ the batch, times what the chips cost per second: a
single user pays for reading all weights every step; a large batch shares that read. The sweep runs
batch sizes 1, 2, 3, 4, 6, 8, 12, … up to what fits in memory (`memory_plan`), in ONE vectorized
`perf.steady.fixed_batch` call; dollars come from `econ.cost.usd_per_mtok`. Nothing here re-derives a
step time.

Marks on the frontier:

* latency floor — `perf.figures` definition: the bytes one batch-1 decode step reads (weights + KV at
  the mean context) ÷ peak memory bandwidth. No batch, price or engine is faster.
* cost floor — the asymptotic minimum $/Mtok: the per-token time of a decode step at an (unfittable)
  batch of 2**24 sequences, where weight reads and fixed overheads are fully amortized and only
  compute, KV reads and communication per token remain (same efficiency model as the sweep; memory
  is ignored, so no real point reaches it). Per-token step time never rises with the batch, so no
  point is cheaper.
* critical batch — smallest batch whose weight matmuls are compute-bound at peak rates (`figures`).
* single user — batch 1; best batch — the cheapest fitting point; their $/Mtok ratio is the price of
  serving one user alone.
* fast mode — for a speed multiple `s` of tokens/s per user relative to the cheapest point, the
  largest (cheapest) batch reaching it and its price multiple.
* context crossover — for a batch, the context at which the KV bytes a decode step reads overtake
  the weight bytes (`StepTime.kv_bytes_per_chip` vs `weight_bytes_per_chip`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from infercost import catalog
from infercost._types import ArrayLike, BoolArray
from infercost.econ.cost import usd_per_mtok
from infercost.errors import DoesNotFitError, InfercostError
from infercost.perf.efficiency import shipped_profile
from infercost.perf.figures import Figures, figures, resolve_parallelism
from infercost.perf.resources import Layout, Resources, resources_for
from infercost.perf.steady import fixed_batch
from infercost.perf.step import decode_micro_batch, step_time
from infercost.specs.engine import ENGINE_NAMES
from infercost.specs.hardware import Hardware
from infercost.specs.model import ModelSpec
from infercost.specs.parallelism import Parallelism

ASYMPTOTIC_BATCH = float(1 << 24)  # sequences: large enough that weight reads and overheads vanish
MAX_SWEEP_BATCH = 1 << 16  # the sweep stops here even when memory would hold more
MAX_DEFAULT_CHIPS = 64  # without chips or tp, the fewest chips that fit is searched up to here
CONTEXT_GRID_MAX = 1 << 22  # tokens searched for the KV-over-weights crossover


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PriceSource(_Frozen):
    usd_per_chip_hour: float
    source: str  # "user input" or "provider term: catalog source"
    as_of: str | None


class FrontierPoint(_Frozen):
    batch: int
    tpot_ms: float
    tokens_per_s_per_user: float  # 1 / TPOT
    ttft_ms: float  # the whole batch's prompts prefilled together, then the first token
    output_tps: float  # per replica: batch / TPOT (decode tokens per second)
    output_tps_per_chip: float
    usd_per_mtok_output: float  # decode chip-seconds ÷ output tokens
    pareto: bool
    marks: list[str]  # "single-user", "critical", "best", …


class FastMode(_Frozen):
    """Paying for speed: a smaller batch per step, fewer users sharing the weight read."""

    speed_requested: float  # multiple of the cheapest point's tokens/s per user
    reachable: bool
    batch: int | None
    speed_multiple: float | None  # achieved (the sweep is discrete)
    price_multiple: float | None  # its $/Mtok ÷ the cheapest point's
    tokens_per_s_per_user: float | None
    usd_per_mtok_output: float | None
    reason: str  # why unreachable, or ""


class ContextCrossover(_Frozen):
    batch: int
    context_tokens: int | None  # None: KV bytes stay below weight bytes up to `searched_up_to`
    searched_up_to: int
    weight_bytes_per_step_per_chip: float
    kv_bytes_per_step_per_chip_at_isl_osl: float  # at the sweep's mean decode context


class Frontier(_Frozen):
    model: str
    hardware: str
    chips: int
    tp: int
    pp: int
    dp: int
    ep: int
    weights: str
    kv: str
    engine: str | None
    isl: int
    osl: int
    decode_context: float  # isl + osl / 2: the mean context a decode step sees
    price: PriceSource
    usd_per_hour: float
    max_concurrent_sequences: int  # memory limit at isl + osl
    points: list[FrontierPoint]  # by batch
    latency_floor_ms: float
    max_tokens_per_s_per_user: float  # 1 / latency floor
    cost_floor_usd_per_mtok: float
    critical_batch: float | None
    single_user: FrontierPoint
    best: FrontierPoint  # cheapest point that fits
    single_user_vs_best_cost_ratio: float
    context_crossover: list[ContextCrossover]  # single user, then the best batch
    efficiency_version: str

    @property
    def pareto(self) -> list[FrontierPoint]:
        return [p for p in self.points if p.pareto]

    def fast_mode(self, speed: float) -> FastMode:
        return fast_mode(self, speed)


class LayoutPoint(_Frozen):
    """One point of a frontier swept over chips per replica as well as batch."""

    chips: int
    tp: int
    pp: int
    point: FrontierPoint
    pareto: bool  # on the Pareto set across every layout


def layout_frontier(
    model: str | ModelSpec, hardware: str | Hardware, chips: list[int], **kwargs: Any
) -> tuple[list[LayoutPoint], dict[int, str]]:
    """`frontier` for each chip count (the default layout for it), with the Pareto set of tokens/s
    per user against $/Mtok taken across all of them: more chips buy speed no batch can.
    Returns the points and, per chip count that could not serve, why."""
    fronts, skipped = [], {}
    for n in sorted(set(chips)):
        try:
            fronts.append(frontier(model, hardware, chips=n, **kwargs))
        except InfercostError as err:
            skipped[n] = str(err)
    if not fronts:
        raise InfercostError("chips", chips, "no chip count fits: " + "; ".join(skipped.values()))
    flat = [(f, p) for f in fronts for p in f.points]
    mask = pareto_mask(
        np.array([p.tokens_per_s_per_user for _, p in flat]),
        np.array([p.usd_per_mtok_output for _, p in flat]),
    )
    points = [
        LayoutPoint(chips=f.chips, tp=f.tp, pp=f.pp, point=p, pareto=bool(m))
        for (f, p), m in zip(flat, mask, strict=True)
    ]
    return points, skipped


def sweep_batches(limit: int) -> list[int]:
    """1, 2, 3, 4, 6, 8, 12, 16, … (powers of two and 1.5× them) up to `limit`, plus `limit`."""
    out: set[int] = set()
    p = 1
    while p <= limit:
        out.add(p)
        if p * 3 // 2 <= limit and p >= 2:
            out.add(p * 3 // 2)
        p *= 2
    out.add(limit)
    return sorted(out)


def pareto_mask(speed: ArrayLike, cost: ArrayLike) -> BoolArray:
    """True where no other point is at least as fast and as cheap, and strictly better in one."""
    s = np.asarray(speed, dtype=float)[:, None]
    c = np.asarray(cost, dtype=float)[:, None]
    other_s, other_c = s.T, c.T  # [i, j]: point j against point i
    dominated = ((other_s >= s) & (other_c <= c) & ((other_s > s) | (other_c < c))).any(axis=1)
    mask: BoolArray = np.logical_not(dominated)
    return mask


def price_source(hw: Hardware, price_per_hour: float | None) -> PriceSource:
    if price_per_hour is not None:
        if not price_per_hour > 0 or not np.isfinite(price_per_hour):
            raise InfercostError(
                "price_per_hour", price_per_hour, "must be > 0 (USD per chip-hour)"
            )
        return PriceSource(usd_per_chip_hour=price_per_hour, source="user input", as_of=None)
    row = catalog.default_price(hw.id)
    if row is None:
        raise InfercostError(
            "price_per_hour",
            None,
            f"the catalog has no price for {hw.id}; pass one (USD/chip-hour)",
        )
    return PriceSource(
        usd_per_chip_hour=row.usd_per_chip_hour,
        source=f"{row.provider} {row.term}: {row.source}",
        as_of=row.as_of,
    )


def context_crossover(
    model: ModelSpec, res: Resources, layout: Layout, *, batch: int, mean_context: float
) -> ContextCrossover:
    """Smallest context (tokens) at which a decode step of `batch` sequences reads more KV bytes
    than weight bytes, searched on a grid up to 4M tokens (one vectorized step-time call)."""
    grid = np.unique(np.round(np.geomspace(1.0, CONTEXT_GRID_MAX, 4000)))
    micro = decode_micro_batch(batch, layout.pp)
    step = step_time(model, res, layout, decode_seqs=micro, decode_context=grid)
    weights = np.broadcast_to(step.weight_bytes_per_chip, grid.shape)
    over = np.nonzero(step.kv_bytes_per_chip >= weights)[0]
    at_mean = step_time(model, res, layout, decode_seqs=micro, decode_context=mean_context)
    return ContextCrossover(
        batch=batch,
        context_tokens=int(grid[over[0]]) if over.size else None,
        searched_up_to=CONTEXT_GRID_MAX,
        weight_bytes_per_step_per_chip=float(weights[0]),
        kv_bytes_per_step_per_chip_at_isl_osl=float(at_mean.kv_bytes_per_chip),
    )


def _fewest_chips_that_fit(
    spec: ModelSpec, at_batch_one: Callable[[Parallelism], Figures]
) -> tuple[Parallelism, Figures]:
    """1, 2, 4, … chips: the first whose default layout holds the weights and one sequence."""
    chips = 1
    while True:
        parallelism = resolve_parallelism(spec, chips, None, None, None, None)
        try:
            return parallelism, at_batch_one(parallelism)
        except DoesNotFitError:
            if chips >= MAX_DEFAULT_CHIPS:
                raise
            chips *= 2


def frontier(
    model: str | ModelSpec,
    hardware: str | Hardware,
    *,
    chips: int | None = None,
    tp: int | None = None,
    weights: str | None = None,
    kv: str | None = None,
    isl: int = 1024,
    osl: int = 256,
    price_per_hour: float | None = None,
    engine: str | None = None,
    batches: list[int] | None = None,
    chunk: int = 8192,
    memory_utilization: float = 0.9,
    sram_kv: bool = False,
) -> Frontier:
    """Tokens/s per user against $/Mtok for every decode batch that fits, with floors and marks.

    `price_per_hour` is per chip (source "user input"); without it the catalog default price for
    the hardware is used, with its source and date. Without `chips` or `tp`, the replica is the
    fewest chips (1, 2, 4, …) that hold the model. `sram_kv` is the opt-in assumption that KV is
    read from on-chip SRAM up to its size (`perf.hierarchy`).
    """
    if engine is not None and engine not in ENGINE_NAMES:
        raise InfercostError("engine", engine, f"allowed: {' '.join(ENGINE_NAMES)}")
    spec = catalog.model(model) if isinstance(model, str) else model
    hw = catalog.hardware(hardware) if isinstance(hardware, str) else hardware
    precision = catalog.precision(weights or spec.native_weights, kv)
    profile = shipped_profile()
    res = resources_for(hw, precision, profile.resolve(hw.family, engine), sram_kv=sram_kv)
    price = price_source(hw, price_per_hour)

    def at_batch_one(p: Parallelism) -> Figures:
        """Validates the inputs and layout, checks the fit, gives the memory plan and floors."""
        return figures(
            spec,
            res,
            p,
            batch=1,
            isl=isl,
            osl=osl,
            chunk=chunk,
            memory_utilization=memory_utilization,
            hw_id=hw.id,
        )

    if chips is None and tp is None:
        parallelism, single = _fewest_chips_that_fit(spec, at_batch_one)
    else:
        parallelism = resolve_parallelism(spec, chips, tp, None, None, None)
        single = at_batch_one(parallelism)
    limit = int(min(float(single.memory.max_concurrent_sequences), MAX_SWEEP_BATCH))
    if batches is None:
        sizes = sweep_batches(limit)
    else:
        if not batches:
            raise InfercostError("batches", batches, "give at least one batch size")
        for size in batches:
            if not 1 <= size <= limit:
                raise InfercostError("batches", size, f"must be whole numbers in [1, {limit}] here")
        sizes = sorted({int(size) for size in batches} | {1})
    layout = Layout.of(parallelism)
    n = parallelism.chips
    b = np.asarray(sizes, dtype=float)
    run = fixed_batch(spec, res, layout, batch=b, isl=isl, osl=osl, budget=chunk)
    tpot = np.asarray(run.tpot_s, dtype=float)
    if not np.all(np.isfinite(tpot)):
        raise InfercostError(
            f"hardware {hw.id}: scale-up/scale-out bandwidth",
            None,
            "unknown in the catalog, so tensor/expert parallel communication cannot be timed",
        )
    speed = 1.0 / tpot
    tps = b / tpot
    cost = np.asarray(usd_per_mtok(price.usd_per_chip_hour, n, tpot, b), dtype=float)
    pareto = pareto_mask(speed, cost)

    # cost floor: per-token decode time at an asymptotic batch (memory ignored)
    context = isl + osl / 2.0
    big = step_time(
        spec,
        res,
        layout,
        decode_seqs=decode_micro_batch(ASYMPTOTIC_BATCH, layout.pp),
        decode_context=context,
    )
    cost_floor = float(usd_per_mtok(price.usd_per_chip_hour, n, float(big.total), ASYMPTOTIC_BATCH))

    best_i = int(np.argmin(cost))
    crit = single.critical_batch
    crit_i = next((i for i, s in enumerate(sizes) if crit is not None and s >= crit), None)
    points: list[FrontierPoint] = []
    for i, size in enumerate(sizes):
        marks = []
        if size == 1:
            marks += ["single-user", "nearest latency floor"]
        if i == crit_i:
            marks.append("critical")
        if i == best_i:
            marks += ["best", "nearest cost floor"]
        if size == limit:
            marks.append("memory limit")
        points.append(
            FrontierPoint(
                batch=size,
                tpot_ms=float(tpot[i]) * 1e3,
                tokens_per_s_per_user=float(speed[i]),
                ttft_ms=float(np.asarray(run.ttft_s)[i]) * 1e3,
                output_tps=float(tps[i]),
                output_tps_per_chip=float(tps[i]) / n,
                usd_per_mtok_output=float(cost[i]),
                pareto=bool(pareto[i]),
                marks=marks,
            )
        )
    best = points[best_i]
    crossovers = [
        context_crossover(spec, res, layout, batch=size, mean_context=context)
        for size in sorted({1, best.batch})
    ]
    return Frontier(
        model=spec.id,
        hardware=hw.id,
        chips=n,
        tp=parallelism.tp,
        pp=parallelism.pp,
        dp=parallelism.dp,
        ep=parallelism.ep,
        weights=precision.weights.id,
        kv=precision.kv.id,
        engine=engine,
        isl=isl,
        osl=osl,
        decode_context=context,
        price=price,
        usd_per_hour=price.usd_per_chip_hour * n,
        max_concurrent_sequences=int(min(float(single.memory.max_concurrent_sequences), 2**62)),
        points=points,
        latency_floor_ms=single.latency_floor_s * 1e3,
        max_tokens_per_s_per_user=1.0 / single.latency_floor_s,
        cost_floor_usd_per_mtok=cost_floor,
        critical_batch=crit,
        single_user=points[0],
        best=best,
        single_user_vs_best_cost_ratio=points[0].usd_per_mtok_output / best.usd_per_mtok_output,
        context_crossover=crossovers,
        efficiency_version=profile.version,
    )


def fast_mode(front: Frontier, speed: float) -> FastMode:
    """The cheapest swept point at least `speed` × as fast per user as the cheapest point."""
    if not speed >= 1 or not np.isfinite(speed):
        raise InfercostError("speed", speed, "must be a multiple ≥ 1 of the cheapest point's speed")
    base = front.best
    target = speed * base.tokens_per_s_per_user
    fast = [p for p in front.points if p.tokens_per_s_per_user >= target]
    if not fast:
        ceiling = max(p.tokens_per_s_per_user for p in front.points) / base.tokens_per_s_per_user
        floor = front.max_tokens_per_s_per_user / base.tokens_per_s_per_user
        return FastMode(
            speed_requested=speed,
            reachable=False,
            batch=None,
            speed_multiple=None,
            price_multiple=None,
            tokens_per_s_per_user=None,
            usd_per_mtok_output=None,
            reason=(
                f"at most {ceiling:.2f}× (batch 1) on this deployment; the latency floor caps any "
                f"deployment of it at {floor:.2f}×"
            ),
        )
    pick = min(fast, key=lambda p: p.usd_per_mtok_output)
    return FastMode(
        speed_requested=speed,
        reachable=True,
        batch=pick.batch,
        speed_multiple=pick.tokens_per_s_per_user / base.tokens_per_s_per_user,
        price_multiple=pick.usd_per_mtok_output / base.usd_per_mtok_output,
        tokens_per_s_per_user=pick.tokens_per_s_per_user,
        usd_per_mtok_output=pick.usd_per_mtok_output,
        reason="",
    )


__all__ = [
    "ContextCrossover",
    "FastMode",
    "Frontier",
    "FrontierPoint",
    "PriceSource",
    "context_crossover",
    "fast_mode",
    "frontier",
    "layout_frontier",
    "pareto_mask",
    "price_source",
    "sweep_batches",
]
