"""Hardware side by side for one model and workload: best layout, $/Mtok, tokens/J, floors, bounds.

For each hardware (a catalog id, an alias, or a YAML spec file of a hypothetical chip) the candidate
deployments are the model's default layout (`perf.figures.default_layout`: tensor parallel over all chips
when the heads allow it) on 1, 2, 4, … chips, from the smallest count that fits up to the scale-up domain
(`MAX_CHIPS` at most), or the chip count given. Every candidate is priced by `econ.frontier.frontier` (a
vectorized batch sweep); the chosen point is the cheapest $/Mtok output whose TPOT meets the SLO (or, with
`batch` fixed, the cheapest layout at that batch). Nothing here re-derives a step time:

* tokens/s per chip, $/Mtok, latency floor, cost floor, critical batch — the frontier at that layout;
* tokens per joule — TDP-based: decode output tokens/s ÷ (chips × catalog `tdp_w`). TDP is the maximum
  board/module power, so this is a lower estimate of the energy efficiency (host, network and cooling
  are not counted);
* drain time — `Hardware.drain_time_s`: HBM capacity ÷ bandwidth;
* max context at a target batch — the largest context whose KV cache for `target_batch` sequences fits
  next to the weights (`perf.memory.memory_plan`, bisected over whole tokens);
* bounding resource — `capacity` when the optimizer's batch stopped at the memory limit, otherwise the
  largest part of the chosen decode step (`perf.step.StepTime`): compute, HBM bandwidth (weights + KV),
  interconnect (communication) or fixed overhead.

Ratios are against the first hardware given: perf/$ (its $/Mtok ÷ this one's), perf/W (tokens/J),
tokens/s per chip and tokens/s per user.

Sensitivity: the same comparison with one resource of one chip raised by 10 % (peak FLOP/s of every
format, HBM bandwidth, HBM capacity, scale-up and scale-out bandwidth) on a `model_copy` of its `Hardware`.
The elasticity of a metric is (Δ metric / metric) ÷ 0.10. For $/Mtok the layout and batch are chosen
again (what a buyer of the faster chip would get); TPOT and the latency floor are timed at the SAME
layout and batch (a latency at a fixed operating point).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict

from infercost import catalog
from infercost.econ.frontier import Frontier, FrontierPoint, PriceSource, frontier, price_source
from infercost.errors import DoesNotFitError, InfercostError
from infercost.perf.efficiency import shipped_profile
from infercost.perf.figures import Figures, figures
from infercost.perf.memory import kv_bytes_per_sequence_per_chip, memory_plan
from infercost.perf.resources import Layout, Resources, resources_for
from infercost.perf.step import StepTime, decode_micro_batch, step_time
from infercost.sim.workload import SLO, generate, load_workload
from infercost.specs.engine import ENGINE_NAMES
from infercost.specs.hardware import Hardware, KVTier
from infercost.specs.model import ModelSpec
from infercost.specs.parallelism import Parallelism

MAX_CHIPS = 64  # chip counts searched stop here even when the scale-up domain is larger
MAX_CONTEXT_SEARCH = 1 << 26  # tokens: the max-context bisection's upper end
STEP = 0.10  # sensitivity: each resource is raised by this fraction
CHUNK = 8192  # prefill chunk and activation workspace, as `estimate` and `frontier` default
MEMORY_UTILIZATION = 0.9
WORKLOAD_SAMPLE = 5000  # requests drawn from a workload file to take its mean lengths
ENERGY_BASIS = (
    "TDP-based: decode output tokens/s ÷ (chips × catalog tdp_w); TDP is the maximum board power, "
    "so this is a lower estimate of tokens per joule (host, network and cooling not counted)"
)
RESOURCES: dict[str, str] = {
    "flops": "peak FLOP/s (every format) +10 %",
    "memory_bandwidth": "HBM bandwidth +10 %",
    "memory_capacity": "HBM capacity +10 %",
    "sram": "on-chip SRAM size and bandwidth +10 % (no effect unless KV is held in SRAM)",
    "interconnect": "scale-up and scale-out bandwidth +10 %",
}
SRAM_KV_ASSUMPTION = (
    "KV in SRAM (opt-in): each decode step's KV working set is read from on-chip SRAM up to its "
    "size, at sram_bw_gbps × the same achievable fractions as HBM; the rest from HBM; weights stay "
    "in HBM and SRAM capacity adds nothing to the KV memory plan"
)
OFFLOAD_ASSUMPTION = (
    "KV offload: beyond the memory plan's HBM room, KV is held in the offload tiers in order and "
    "read at each tier's given bandwidth every decode step; no prefetch overlap (tier reads add)"
)
Bound = Literal["compute", "hbm-bandwidth", "capacity", "interconnect", "overhead"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class StepParts(_Frozen):
    """One step's milliseconds by cause (they sum to `total_ms`)."""

    compute_ms: float
    weights_ms: float
    kv_ms: float
    comm_ms: float
    overhead_ms: float
    total_ms: float

    @classmethod
    def of(cls, step: StepTime) -> StepParts:
        parts = {f"{k}_ms": float(np.sum(v)) * 1e3 for k, v in step.breakdown_s().items()}
        return cls(**parts, total_ms=float(np.sum(step.total)) * 1e3)


class Candidate(_Frozen):
    """One chip count tried: its best point, or why it was skipped."""

    chips: int
    tp: int | None
    pp: int | None
    batch: int | None
    tpot_ms: float | None
    usd_per_mtok_output: float | None
    slo_met: bool
    skipped: str  # "" when it ran


class OffloadFigure(_Frozen):
    """The longest context `target_batch` sequences reach with KV spilling to offload tiers."""

    tiers: list[str]  # HBM first, then the offload tiers in order of use
    max_context_tokens: int  # capped at the model's window when it is known
    kv_gb_per_chip_by_tier: dict[str, float]  # where that context's KV sits
    tpot_ms: float  # one decode step at that context (tier reads included)
    tpot_ms_all_in_hbm: float  # the same step were HBM large enough: the offload's cost


class CompareEntry(_Frozen):
    ref: str  # as given (catalog id, alias or YAML path)
    hardware: str  # resolved id
    name: str
    hypothetical: bool  # a spec file whose `source` says "hypothetical"
    hardware_source: str | list[str]
    hardware_as_of: str | None
    chips: int
    tp: int
    pp: int
    dp: int
    ep: int
    weights: str
    kv: str
    batch: int
    slo_met: bool  # False: no candidate met the TPOT SLO; the fastest point is shown
    tpot_ms: float
    tokens_per_s_per_user: float
    ttft_ms: float  # one request's prefill, no queueing
    output_tps: float  # decode output tokens/s of the replica (batch / TPOT)
    output_tps_per_chip: float
    usd_per_mtok_output: float
    usd_per_hour: float
    price: PriceSource
    tdp_w: float | None
    tokens_per_joule: float | None  # TDP-based (see ENERGY_BASIS); None when the TDP is unknown
    latency_floor_ms: float
    cost_floor_usd_per_mtok: float
    critical_batch: float | None
    drain_time_ms: float | None  # HBM capacity ÷ bandwidth
    max_concurrent_sequences: int  # at isl + osl
    target_batch: int
    max_context_tokens: int  # KV memory limit for `target_batch` sequences at this layout
    model_max_context: int | None  # the model's own limit, when known
    offload: OffloadFigure | None  # long context with KV offload tiers (when the hardware has any)
    sram_kv: bool  # KV read from on-chip SRAM (opt-in, and only where SRAM figures are known)
    bound: Bound  # what limits the chosen point
    step_bound: Bound  # the largest part of the chosen decode step
    decode: StepParts  # one decode step at the chosen batch
    prefill: StepParts  # one request's prompt (all chunks)
    candidates: list[Candidate]


class Ratios(_Frozen):
    """This entry ÷ the first entry (None when either side is unknown)."""

    hardware: str
    perf_per_usd: float  # first $/Mtok ÷ this $/Mtok
    perf_per_watt: float | None  # tokens/J ÷ first tokens/J
    tokens_per_s_per_chip: float
    tokens_per_s_per_user: float


class Elasticity(_Frozen):
    resource: str  # a key of RESOURCES
    change: str
    usd_per_mtok_output: float  # (Δ$/Mtok / $/Mtok) ÷ 0.10, layout and batch chosen again
    tpot: float  # (ΔTPOT / TPOT) ÷ 0.10 at the same layout and batch
    latency_floor: float  # (Δfloor / floor) ÷ 0.10 at the same layout
    chips: int  # of the re-chosen point
    batch: int


class Sensitivity(_Frozen):
    hardware: str
    elasticities: list[Elasticity]
    most_valuable: str  # the resource whose +10 % lowers $/Mtok most


class Comparison(_Frozen):
    model: str
    isl: int
    osl: int
    tpot_slo_ms: float | None
    batch: int | None  # fixed by the caller, else chosen per hardware
    baseline: str  # the first hardware: ratios are against it
    energy_basis: str
    entries: list[CompareEntry]
    ratios: list[Ratios]
    sensitivity: list[Sensitivity] | None
    efficiency_version: str
    assumptions: list[str]  # opt-in modelling assumptions in force (SRAM-resident KV, offload)


# --- one hardware ---------------------------------------------------------------------------------


class _Chosen:
    """The chosen frontier and point of one hardware, with the candidates tried."""

    def __init__(
        self, front: Frontier, point: FrontierPoint, slo_met: bool, tried: list[Candidate]
    ) -> None:
        self.front, self.point, self.slo_met, self.tried = front, point, slo_met, tried


def chip_counts(hw: Hardware, chips: int | None) -> list[int]:
    """1, 2, 4, … up to MAX_CHIPS; `_choose` stops past the scale-up domain once one fits."""
    if chips is not None:
        if chips < 1:
            raise InfercostError("chips", chips, "must be a whole number ≥ 1")
        return [chips]
    out, n = [], 1
    while n <= MAX_CHIPS:
        out.append(n)
        n *= 2
    return out


def _choose(
    spec: ModelSpec,
    hw: Hardware,
    price: PriceSource,
    *,
    chips: int | None,
    batch: int | None,
    isl: int,
    osl: int,
    tpot_slo_ms: float | None,
    weights: str | None,
    kv: str | None,
    engine: str | None,
    sram_kv: bool,
) -> _Chosen:
    domain = hw.scale_up.domain_size or 1
    tried: list[Candidate] = []
    runs: list[tuple[Candidate, Frontier]] = []
    first_error: InfercostError | None = None
    for n in chip_counts(hw, chips):
        if chips is None and runs and n > domain:
            break
        try:
            front = frontier(
                spec,
                hw,
                chips=n,
                weights=weights,
                kv=kv,
                isl=isl,
                osl=osl,
                price_per_hour=price.usd_per_chip_hour,
                engine=engine,
                batches=None if batch is None else [batch],
                sram_kv=sram_kv,
            )
        except InfercostError as err:
            # a count that does not fit (model, or the fixed batch) or cannot be timed is skipped;
            # a bad input is the user's and fails at once
            skippable = isinstance(err, DoesNotFitError) or err.field in ("batches", "chips")
            if chips is not None or not (skippable or "bandwidth" in err.field):
                raise
            first_error = first_error or err
            tried.append(
                Candidate(
                    chips=n,
                    tp=None,
                    pp=None,
                    batch=None,
                    tpot_ms=None,
                    usd_per_mtok_output=None,
                    slo_met=False,
                    skipped=str(err),
                )
            )
            continue
        points = [p for p in front.points if batch is None or p.batch == batch]
        ok = [p for p in points if tpot_slo_ms is None or p.tpot_ms <= tpot_slo_ms]
        best = min(ok or points, key=lambda p: p.usd_per_mtok_output if ok else p.tpot_ms)
        cand = Candidate(
            chips=n,
            tp=front.tp,
            pp=front.pp,
            batch=best.batch,
            tpot_ms=best.tpot_ms,
            usd_per_mtok_output=best.usd_per_mtok_output,
            slo_met=bool(ok),
            skipped="",
        )
        tried.append(cand)
        runs.append((cand, front))
    if not runs:
        assert first_error is not None
        raise first_error
    ok_runs = [(c, f) for c, f in runs if c.slo_met]
    if ok_runs:  # the cheapest meeting the SLO; fewer chips on a tie
        cand, front = min(ok_runs, key=lambda cf: (cf[0].usd_per_mtok_output or 0.0, cf[0].chips))
    else:  # none meets it: the fastest
        cand, front = min(runs, key=lambda cf: (cf[0].tpot_ms or 0.0, cf[0].chips))
    point = next(p for p in front.points if p.batch == cand.batch)
    return _Chosen(front, point, bool(ok_runs), tried)


def _resources(
    hw: Hardware,
    spec: ModelSpec,
    weights: str | None,
    kv: str | None,
    engine: str | None,
    sram_kv: bool,
) -> Resources:
    precision = catalog.precision(weights or spec.native_weights, kv)
    return resources_for(
        hw, precision, shipped_profile().resolve(hw.family, engine), sram_kv=sram_kv
    )


def _parallelism(front: Frontier) -> Parallelism:
    return Parallelism(tp=front.tp, pp=front.pp, dp=front.dp, ep=front.ep)


def _point_figures(
    spec: ModelSpec,
    hw: Hardware,
    parallelism: Parallelism,
    batch: int,
    *,
    isl: int,
    osl: int,
    weights: str | None,
    kv: str | None,
    engine: str | None,
    sram_kv: bool,
) -> Figures:
    res = _resources(hw, spec, weights, kv, engine, sram_kv)
    return figures(
        spec,
        res,
        parallelism,
        batch=batch,
        isl=isl,
        osl=osl,
        chunk=CHUNK,
        memory_utilization=MEMORY_UTILIZATION,
        hw_id=hw.id,
    )


def max_context(res: Resources, spec: ModelSpec, parallelism: Parallelism, batch: int) -> int:
    """Largest context (tokens) whose KV cache for `batch` sequences fits beside the weights."""
    layout = Layout.of(parallelism)

    def fits(context: int) -> bool:
        plan = memory_plan(
            spec,
            res,
            layout,
            context=context,
            memory_utilization=MEMORY_UTILIZATION,
            max_batched_tokens=CHUNK,
        )
        return float(plan.max_concurrent_sequences) >= batch

    if not fits(1):
        return 0
    low, high = 1, MAX_CONTEXT_SEARCH
    if fits(high):
        return high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def offload_figure(
    res: Resources, spec: ModelSpec, parallelism: Parallelism, batch: int, hw: Hardware
) -> OffloadFigure:
    """Longest context for `batch` sequences with KV in HBM then the offload tiers (at most the
    model's own window), where its KV sits, and the decode step there."""
    layout = Layout.of(parallelism)
    plan = memory_plan(
        spec,
        res,
        layout,
        context=1,
        memory_utilization=MEMORY_UTILIZATION,
        max_batched_tokens=CHUNK,
    )
    hbm_room = max(float(plan.kv_free_bytes), 0.0)
    room = hbm_room + sum(t.capacity_gb * 1e9 for t in hw.kv_offload)
    micro = float(decode_micro_batch(batch, layout.pp))

    def kv_per_chip(context: int) -> float:  # every sequence of this chip's data-parallel group
        per_seq = float(kv_bytes_per_sequence_per_chip(spec, res, layout, context))
        return batch / parallelism.dp * per_seq

    low, high = 0, spec.max_context or MAX_CONTEXT_SEARCH
    if kv_per_chip(high) <= room:  # the model's own window is reached
        low = high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if kv_per_chip(mid) <= room else (low, mid)
    tiered = replace(res, hbm_kv_bytes=np.asarray(hbm_room))

    def tpot_ms(kv_res: Resources) -> float:
        step = step_time(spec, kv_res, layout, decode_seqs=micro, decode_context=low)
        return float(step.total) * 1e3

    placed, left = {}, kv_per_chip(low)
    for name, capacity in [("hbm", hbm_room)] + [
        (t.name, t.capacity_gb * 1e9) for t in hw.kv_offload
    ]:
        placed[name] = min(left, capacity) / 1e9
        left -= min(left, capacity)
    return OffloadFigure(
        tiers=list(placed),
        max_context_tokens=low,
        kv_gb_per_chip_by_tier=placed,
        tpot_ms=tpot_ms(tiered),
        tpot_ms_all_in_hbm=tpot_ms(res),
    )


def step_bound(step: StepTime) -> Bound:
    parts: dict[Bound, float] = {
        "compute": float(np.sum(step.compute)),
        "hbm-bandwidth": float(np.sum(step.weights + step.kv)),
        "interconnect": float(np.sum(step.comm)),
        "overhead": float(np.sum(step.overhead)),
    }
    return max(parts, key=lambda k: parts[k])


def _entry(
    ref: str,
    spec: ModelSpec,
    hw: Hardware,
    price: PriceSource,
    chosen: _Chosen,
    *,
    batch_fixed: bool,
    isl: int,
    osl: int,
    target_batch: int,
    weights: str | None,
    kv: str | None,
    engine: str | None,
    sram_kv: bool,
) -> CompareEntry:
    front, point = chosen.front, chosen.point
    parallelism = _parallelism(front)
    fig = _point_figures(
        spec,
        hw,
        parallelism,
        point.batch,
        isl=isl,
        osl=osl,
        weights=weights,
        kv=kv,
        engine=engine,
        sram_kv=sram_kv,
    )
    res = _resources(hw, spec, weights, kv, engine, sram_kv)
    inner = step_bound(fig.decode)
    memory_limited = not batch_fixed and "memory limit" in point.marks and chosen.slo_met
    drain = hw.drain_time_s
    source = hw.source if isinstance(hw.source, str) else " ".join(hw.source)
    return CompareEntry(
        ref=ref,
        hardware=hw.id,
        name=hw.name,
        hypothetical="hypothetical" in source.lower(),
        hardware_source=hw.source,
        hardware_as_of=hw.as_of,
        chips=front.chips,
        tp=front.tp,
        pp=front.pp,
        dp=front.dp,
        ep=front.ep,
        weights=front.weights,
        kv=front.kv,
        batch=point.batch,
        slo_met=chosen.slo_met,
        tpot_ms=point.tpot_ms,
        tokens_per_s_per_user=point.tokens_per_s_per_user,
        ttft_ms=fig.ttft_s * 1e3,
        output_tps=point.output_tps,
        output_tps_per_chip=point.output_tps_per_chip,
        usd_per_mtok_output=point.usd_per_mtok_output,
        usd_per_hour=front.usd_per_hour,
        price=price,
        tdp_w=hw.tdp_w,
        tokens_per_joule=None if hw.tdp_w is None else point.output_tps_per_chip / hw.tdp_w,
        latency_floor_ms=front.latency_floor_ms,
        cost_floor_usd_per_mtok=front.cost_floor_usd_per_mtok,
        critical_batch=front.critical_batch,
        drain_time_ms=None if drain is None else drain * 1e3,
        max_concurrent_sequences=front.max_concurrent_sequences,
        target_batch=target_batch,
        max_context_tokens=max_context(res, spec, parallelism, target_batch),
        model_max_context=spec.max_context,
        offload=offload_figure(res, spec, parallelism, target_batch, hw) if hw.kv_offload else None,
        sram_kv=sram_kv,
        bound="capacity" if memory_limited else inner,
        step_bound=inner,
        decode=StepParts.of(fig.decode),
        prefill=StepParts.of(fig.prefill),
        candidates=chosen.tried,
    )


def ratios(entries: list[CompareEntry]) -> list[Ratios]:
    """Each entry against the first: perf/$, perf/W, tokens/s per chip and per user."""
    base = entries[0]
    out = []
    for e in entries:
        per_watt = (
            e.tokens_per_joule / base.tokens_per_joule
            if e.tokens_per_joule is not None and base.tokens_per_joule
            else None
        )
        out.append(
            Ratios(
                hardware=e.hardware,
                perf_per_usd=base.usd_per_mtok_output / e.usd_per_mtok_output,
                perf_per_watt=per_watt,
                tokens_per_s_per_chip=e.output_tps_per_chip / base.output_tps_per_chip,
                tokens_per_s_per_user=e.tokens_per_s_per_user / base.tokens_per_s_per_user,
            )
        )
    return out


# --- sensitivity ----------------------------------------------------------------------------------


def scaled(hw: Hardware, resource: str, factor: float = 1.0 + STEP) -> Hardware:
    """A copy of `hw` with one resource multiplied by `factor` (unknown values stay unknown)."""

    def mul(v: float | None) -> float | None:
        return None if v is None else v * factor

    if resource == "flops":
        return hw.model_copy(update={"peak_tflops": {k: mul(v) for k, v in hw.peak_tflops.items()}})
    if resource == "memory_bandwidth":
        return hw.model_copy(update={"memory_bw_gbps": mul(hw.memory_bw_gbps)})
    if resource == "memory_capacity":
        return hw.model_copy(update={"memory_gb": mul(hw.memory_gb)})
    if resource == "sram":
        return hw.model_copy(
            update={"sram_mb": mul(hw.sram_mb), "sram_bw_gbps": mul(hw.sram_bw_gbps)}
        )
    if resource == "interconnect":
        scale_up = hw.scale_up.model_copy(update={"bw_gbps": mul(hw.scale_up.bw_gbps)})
        return hw.model_copy(
            update={"scale_up": scale_up, "scale_out_gbps": mul(hw.scale_out_gbps)}
        )
    raise InfercostError("resource", resource, f"allowed: {' '.join(RESOURCES)}")


def _elasticity(new: float, old: float) -> float:
    return (new - old) / old / STEP


def _sensitivity(
    spec: ModelSpec,
    hw: Hardware,
    price: PriceSource,
    entry: CompareEntry,
    *,
    chips: int | None,
    batch: int | None,
    isl: int,
    osl: int,
    tpot_slo_ms: float | None,
    weights: str | None,
    kv: str | None,
    engine: str | None,
    sram_kv: bool,
) -> Sensitivity:
    parallelism = Parallelism(tp=entry.tp, pp=entry.pp, dp=entry.dp, ep=entry.ep)
    rows = []
    for resource, change in RESOURCES.items():
        faster = scaled(hw, resource)
        chosen = _choose(
            spec,
            faster,
            price,
            chips=chips,
            batch=batch,
            isl=isl,
            osl=osl,
            tpot_slo_ms=tpot_slo_ms,
            weights=weights,
            kv=kv,
            engine=engine,
            sram_kv=sram_kv,
        )
        same = _point_figures(
            spec,
            faster,
            parallelism,
            entry.batch,
            isl=isl,
            osl=osl,
            weights=weights,
            kv=kv,
            engine=engine,
            sram_kv=sram_kv,
        )
        rows.append(
            Elasticity(
                resource=resource,
                change=change,
                usd_per_mtok_output=_elasticity(
                    chosen.point.usd_per_mtok_output, entry.usd_per_mtok_output
                ),
                tpot=_elasticity(same.tpot_s * 1e3, entry.tpot_ms),
                latency_floor=_elasticity(same.latency_floor_s * 1e3, entry.latency_floor_ms),
                chips=chosen.front.chips,
                batch=chosen.point.batch,
            )
        )
    best = min(rows, key=lambda r: r.usd_per_mtok_output)
    return Sensitivity(
        hardware=hw.id,
        elasticities=rows,
        most_valuable=best.resource if best.usd_per_mtok_output < 0 else "none",
    )


# --- the comparison -------------------------------------------------------------------------------


def _prices(
    refs: list[str], hws: list[Hardware], given: dict[str, float] | None
) -> list[PriceSource]:
    given = dict(given or {})
    keys = {k.strip().lower(): v for k, v in given.items()}
    known = {r.strip().lower() for r in refs} | {h.id for h in hws}
    for key in keys:
        if key not in known:
            raise InfercostError(
                "price_per_hour", key, f"names no hardware compared; use one of {sorted(known)}"
            )
    out = []
    for ref, hw in zip(refs, hws, strict=True):
        value = keys.get(ref.strip().lower(), keys.get(hw.id))
        try:
            out.append(price_source(hw, value))
        except InfercostError as err:
            if value is None:
                raise InfercostError(
                    "price_per_hour",
                    hw.id,
                    f"the catalog has no price for {hw.id}; pass one as {hw.id}=USD_PER_CHIP_HOUR",
                ) from None
            raise InfercostError(f"price_per_hour {hw.id}", value, err.allowed) from None
    return out


def resolve_hardware(refs: list[str]) -> list[Hardware]:
    """Catalog ids, aliases or YAML spec files (validated like catalog entries)."""
    if not refs:
        raise InfercostError("hardware", refs, "give at least one hardware id or spec file")
    hws = []
    for ref in refs:
        path = Path(ref)
        if path.suffix in (".yaml", ".yml") and not path.is_file():
            raise InfercostError("hardware", ref, "spec file not found")
        try:
            hws.append(catalog.hardware(ref))
        except yaml.YAMLError as err:
            first = str(err).splitlines()[0]
            raise InfercostError("hardware", ref, f"not a readable YAML spec ({first})") from None
    ids = [h.id for h in hws]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup is not None:
        raise InfercostError("hardware", dup, "given twice; each hardware once")
    return hws


class WorkloadPoint(_Frozen):
    """The operating point `compare` uses for a workload file: mean lengths and the tightest TPOT."""

    isl: int
    osl: int
    tpot_slo_ms: float | None
    sampled_requests: int


def workload_point(path: str | Path, sample: int = WORKLOAD_SAMPLE) -> WorkloadPoint:
    """Mean prompt and output tokens over the first `sample` requests the workload generates
    (sessions, traces and length distributions included) and the tightest TPOT target of its SLOs
    (a scenario file's top-level `slo` counts too)."""
    spec = load_workload(path)
    requests = list(islice(generate(spec, base_dir=Path(path).parent), sample))
    if not requests:
        raise InfercostError("workload", str(path), "generates no requests")
    slos = list(spec.slos.values())
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("slo"), dict):
        slos.append(SLO.model_validate(data["slo"]))
    targets = [s.tpot_ms for s in slos if s.tpot_ms is not None]
    return WorkloadPoint(
        isl=max(1, round(float(np.mean([r.prompt_tokens for r in requests])))),
        osl=max(2, round(float(np.mean([r.output_tokens for r in requests])))),
        tpot_slo_ms=min(targets) if targets else None,
        sampled_requests=len(requests),
    )


def compare(
    model: str | ModelSpec,
    hardware: list[str],
    *,
    chips: int | None = None,
    batch: int | None = None,
    isl: int = 1024,
    osl: int = 256,
    tpot_slo_ms: float | None = None,
    price_per_hour: dict[str, float] | None = None,
    engine: str | None = None,
    target_batch: int | None = None,
    weights: str | None = None,
    kv: str | None = None,
    with_sensitivity: bool = False,
    sram_kv: bool = False,
    kv_offload: list[KVTier] | None = None,
) -> Comparison:
    """Compare hardware for one model and workload; ratios are against the first hardware.

    `price_per_hour` maps a hardware ref or id to USD per chip-hour ("user input"); others use the
    catalog default price with its source and date. `target_batch` (default 1) is the number of
    sequences for the max-context figure. `with_sensitivity` adds the +10 % elasticities.
    `sram_kv` is the opt-in assumption that KV is read from on-chip SRAM up to its size (the
    hardware needs `sram_mb` and `sram_bw_gbps`); `kv_offload` gives every hardware these offload
    tiers (else each hardware's own `kv_offload`), for the long-context figure.
    """
    if engine is not None and engine not in ENGINE_NAMES:
        raise InfercostError("engine", engine, f"allowed: {' '.join(ENGINE_NAMES)}")
    if tpot_slo_ms is not None and not (tpot_slo_ms > 0 and np.isfinite(tpot_slo_ms)):
        raise InfercostError("tpot_slo_ms", tpot_slo_ms, "must be > 0 (milliseconds)")
    for name, value in (("batch", batch), ("target_batch", target_batch)):
        if value is not None and value < 1:
            raise InfercostError(name, value, "must be a whole number ≥ 1")
    spec = catalog.model(model) if isinstance(model, str) else model
    hws = resolve_hardware(hardware)
    if kv_offload is not None:
        hws = [h.model_copy(update={"kv_offload": tuple(kv_offload)}) for h in hws]
    prices = _prices(hardware, hws, price_per_hour)
    target = target_batch or 1
    common: dict[str, Any] = {
        "isl": isl,
        "osl": osl,
        "weights": weights,
        "kv": kv,
        "engine": engine,
    }
    in_sram = {
        h.id: sram_kv and h.sram_bytes is not None and h.sram_bw_bytes_per_s is not None
        for h in hws
    }
    if sram_kv and not any(in_sram.values()):
        raise InfercostError(
            "sram_kv",
            True,
            "no hardware given has both sram_mb and sram_bw_gbps; give them in a spec file",
        )
    entries, sens = [], []
    for ref, hw, price in zip(hardware, hws, prices, strict=True):
        common["sram_kv"] = in_sram[hw.id]
        chosen = _choose(
            spec, hw, price, chips=chips, batch=batch, tpot_slo_ms=tpot_slo_ms, **common
        )
        entry = _entry(
            ref,
            spec,
            hw,
            price,
            chosen,
            batch_fixed=batch is not None,
            target_batch=target,
            **common,
        )
        entries.append(entry)
        if with_sensitivity:
            sens.append(
                _sensitivity(
                    spec,
                    hw,
                    price,
                    entry,
                    chips=chips,
                    batch=batch,
                    tpot_slo_ms=tpot_slo_ms,
                    **common,
                )
            )
    return Comparison(
        model=spec.id,
        isl=isl,
        osl=osl,
        tpot_slo_ms=tpot_slo_ms,
        batch=batch,
        baseline=entries[0].hardware,
        energy_basis=ENERGY_BASIS,
        entries=entries,
        ratios=ratios(entries),
        sensitivity=sens if with_sensitivity else None,
        efficiency_version=shipped_profile().version,
        assumptions=[
            *([SRAM_KV_ASSUMPTION] if sram_kv else []),
            *(
                f"{h}: SRAM size or bandwidth unknown, so its KV is read from HBM"
                for h, used in in_sram.items()
                if sram_kv and not used
            ),
            *([OFFLOAD_ASSUMPTION] if any(h.kv_offload for h in hws) else []),
        ],
    )


def sensitivity(
    model: str | ModelSpec,
    hardware: list[str],
    **kwargs: Any,
) -> list[Sensitivity]:
    """Elasticities of $/Mtok and TPOT to +10 % of each resource of each hardware (see `compare`)."""
    result = compare(model, hardware, with_sensitivity=True, **kwargs)
    assert result.sensitivity is not None
    return result.sensitivity


__all__ = [
    "ENERGY_BASIS",
    "RESOURCES",
    "CompareEntry",
    "Comparison",
    "Elasticity",
    "OffloadFigure",
    "Ratios",
    "Sensitivity",
    "compare",
    "max_context",
    "ratios",
    "scaled",
    "sensitivity",
    "step_bound",
    "workload_point",
]
