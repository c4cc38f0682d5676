"""Requests per second one replica sustains while meeting p99 TPOT and TTFT targets.

A replica (model × hardware × layout × precision) serves a continuous-batching steady state
(`perf.steady.continuous`) at every concurrency from 1 up to what its KV cache holds (`perf.memory`)
and the engine admits (`max_num_seqs`, catalog engine defaults). The p99 of TPOT and TTFT are the
steady-state means times the calibrated tail factors of the efficiency profile
(`queueing.tpot_p99_over_mean`, `ttft_p99_over_mean`), exactly as the validation's server scenario
does; the sustainable rate is the best output rate among the concurrencies whose tails meet both
targets, times the profile's open-loop `load_factor`, divided by the output length.

Nothing here re-derives a step time or a memory plan: it composes `perf`. `fractional_hardware` gives
the share of one chip (a MIG slice, an MPS share) as a `Hardware` so the same model prices it.
The end of the module holds the one-line error helpers shared by the fleet, pack and route files.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from infercost import catalog
from infercost.errors import DoesNotFitError, InfercostError
from infercost.perf.efficiency import shipped_profile
from infercost.perf.figures import check_fits, check_layout, resolve_parallelism
from infercost.perf.memory import memory_plan
from infercost.perf.resources import Layout, resources_for
from infercost.perf.steady import continuous
from infercost.specs.hardware import Hardware, ScaleUp
from infercost.specs.model import ModelSpec
from infercost.specs.parallelism import Parallelism

MAX_CHIPS_PER_REPLICA = 64  # the fewest-chips search stops here

Limit = Literal["tpot", "ttft", "memory", "engine"]


class SloNotMetError(InfercostError):
    """No concurrency, not even one sequence, meets the latency targets on this replica."""


class Capacity(BaseModel):
    """What one replica sustains at the targets. Rates are per replica; latencies are p99 in ms."""

    model_config = ConfigDict(frozen=True)

    model: str
    hardware: str
    chips: int
    tp: int
    pp: int
    ep: int
    weights: str
    kv: str
    engine: str | None
    isl: int
    osl: int
    tpot_slo_ms: float | None
    ttft_slo_ms: float | None
    concurrency: int  # sequences in flight at the sustainable point
    max_concurrency: int  # what memory and the engine admit
    requests_per_s: float  # sustainable request rate (load factor applied)
    output_tps: float  # output tokens/s at that rate
    tpot_ms_p99: float
    ttft_ms_p99: float
    limited_by: Limit  # what stops a larger batch
    weights_bytes_per_chip: float
    efficiency_version: str

    @property
    def requests_per_s_per_chip(self) -> float:
        return self.requests_per_s / self.chips


def spec_for(ref: str, field: str) -> ModelSpec:
    """A catalog model (or config.json path) for an input file's `field`; unknown ids name the field."""
    try:
        return catalog.model(ref)
    except InfercostError as err:
        raise InfercostError(field, ref, err.allowed) from None


def _spec(model: str | ModelSpec) -> ModelSpec:
    return catalog.model(model) if isinstance(model, str) else model


def _hardware(hardware: str | Hardware) -> Hardware:
    return catalog.hardware(hardware) if isinstance(hardware, str) else hardware


def replica_capacity(
    model: str | ModelSpec,
    hardware: str | Hardware,
    *,
    isl: int,
    osl: int,
    tpot_ms: float | None = None,
    ttft_ms: float | None = None,
    parallelism: Parallelism | None = None,
    chips: int | None = None,
    weights: str | None = None,
    kv: str | None = None,
    engine: str | None = None,
    max_num_seqs: int | None = None,
) -> Capacity:
    """Sustainable requests/s of one replica at p99 `tpot_ms` / `ttft_ms` (None: no target).

    The layout is `parallelism`, else the default split of `chips`, else the fewest chips (1, 2, 4, …)
    that hold the model. Raises `DoesNotFitError` when the weights do not fit and `SloNotMetError`
    (naming the target and the closest value) when even one sequence misses a target.
    """
    for name, value in (("isl", isl), ("osl", osl)):
        if not value >= 1:
            raise InfercostError(name, value, "must be a whole number ≥ 1")
    for name, target in (("tpot_ms", tpot_ms), ("ttft_ms", ttft_ms)):
        if target is not None and not target > 0:
            raise InfercostError(name, target, "must be > 0 (milliseconds)")
    if max_num_seqs is not None and max_num_seqs < 1:
        raise InfercostError("max_num_seqs", max_num_seqs, "must be a whole number ≥ 1")
    spec, hw = _spec(model), _hardware(hardware)
    eng = catalog.engine(engine)
    profile = shipped_profile()
    precision = catalog.precision(weights or spec.native_weights, kv)
    res = resources_for(hw, precision, profile.resolve(hw.family, engine))
    budget = eng.token_budget
    context = isl + osl

    def admitted(p: Parallelism) -> tuple[int, float, Limit]:
        """Sequences memory and the engine admit, per-chip weights, and which of them binds."""
        layout = Layout.of(p)
        first = memory_plan(
            spec, res, layout, context=context, memory_utilization=1.0, max_batched_tokens=budget
        )
        used = float(first.weights_bytes + first.reserve_bytes) / float(first.capacity_bytes)
        plan = memory_plan(
            spec,
            res,
            layout,
            context=context,
            memory_utilization=min(1.0, eng.usable_memory_fraction(used)),
            max_batched_tokens=budget,
        )
        check_fits(plan, spec, batch=1, context=context, hw_id=hw.id)
        limit = (max_num_seqs or eng.batch_limit) * p.dp
        held = float(plan.max_concurrent_sequences)
        if held <= limit:
            return int(held), float(plan.weights_bytes), "memory"
        return int(limit), float(plan.weights_bytes), "engine"

    if parallelism is not None:
        check_layout(spec, parallelism)
        layout_p = parallelism
        seqs, weights_bytes, cap_limit = admitted(layout_p)
    elif chips is not None:
        layout_p = resolve_parallelism(spec, chips, None, None, None, None)
        seqs, weights_bytes, cap_limit = admitted(layout_p)
    else:
        layout_p, (seqs, weights_bytes, cap_limit) = _fewest_chips(spec, admitted)

    layout = Layout.of(layout_p)
    batches = np.arange(1.0, seqs + 1.0)
    run = continuous(spec, res, layout, concurrency=batches, isl=isl, osl=osl, budget=budget)
    q = profile.queueing
    tpot = np.asarray(run.tpot_s, dtype=float) * q.tpot_p99_over_mean * 1e3
    ttft = np.asarray(run.ttft_s, dtype=float) * q.ttft_p99_over_mean * 1e3
    if not (np.all(np.isfinite(tpot)) and np.all(np.isfinite(ttft))):
        raise InfercostError(
            f"hardware {hw.id}: scale-up/scale-out bandwidth",
            None,
            "unknown in the catalog, so tensor/expert parallel communication cannot be timed",
        )
    tpot_ok = tpot <= (tpot_ms if tpot_ms is not None else np.inf)
    ttft_ok = ttft <= (ttft_ms if ttft_ms is not None else np.inf)
    ok = tpot_ok & ttft_ok
    where = f"{spec.id} on {layout_p.chips}× {hw.id} (tp {layout_p.tp}, pp {layout_p.pp})"
    if not ok.any():
        if not tpot_ok[0]:
            raise SloNotMetError(
                "slo.tpot_ms",
                tpot_ms,
                f"{where} reaches a p99 TPOT of {tpot[0]:.1f} ms at best (one sequence)",
            )
        raise SloNotMetError(
            "slo.ttft_ms",
            ttft_ms,
            f"{where} reaches a p99 TTFT of {ttft[0]:.0f} ms at best (one sequence, {isl} tokens)",
        )
    tps = np.asarray(run.output_tps, dtype=float)
    best = int(np.argmax(np.where(ok, tps, -np.inf)))
    limited: Limit = cap_limit
    if best + 1 < seqs and not ok[best + 1]:
        limited = "tpot" if not tpot_ok[best + 1] else "ttft"
    rate = float(tps[best]) * q.load_factor / osl
    return Capacity(
        model=spec.id,
        hardware=hw.id,
        chips=layout_p.chips,
        tp=layout_p.tp,
        pp=layout_p.pp,
        ep=layout_p.ep,
        weights=precision.weights.id,
        kv=precision.kv.id,
        engine=engine,
        isl=isl,
        osl=osl,
        tpot_slo_ms=tpot_ms,
        ttft_slo_ms=ttft_ms,
        concurrency=best + 1,
        max_concurrency=seqs,
        requests_per_s=rate,
        output_tps=rate * osl,
        tpot_ms_p99=float(tpot[best]),
        ttft_ms_p99=float(ttft[best]),
        limited_by=limited,
        weights_bytes_per_chip=weights_bytes,
        efficiency_version=profile.version,
    )


def _fewest_chips(spec: ModelSpec, admitted: Any) -> tuple[Parallelism, tuple[int, float, Limit]]:
    chips = 1
    while True:
        p = resolve_parallelism(spec, chips, None, None, None, None)
        try:
            return p, admitted(p)
        except DoesNotFitError:
            if chips >= MAX_CHIPS_PER_REPLICA:
                raise
            chips *= 2


def chip_counts(hw: Hardware) -> list[int]:
    """1, 2, 4, … up to the scale-up domain (a replica does not span the scale-out network here)."""
    domain = hw.scale_up.domain_size or 1
    out, n = [], 1
    while n <= max(domain, 1):
        out.append(n)
        n *= 2
    return out


def best_capacity(
    model: str | ModelSpec,
    hardware: str | Hardware,
    *,
    isl: int,
    osl: int,
    tpot_ms: float | None = None,
    ttft_ms: float | None = None,
    weights: str | None = None,
    kv: str | None = None,
    engine: str | None = None,
) -> Capacity:
    """The chip count per replica (1, 2, 4, … within the scale-up domain) with the most requests/s
    per chip at the targets; fewer chips on a tie. Raises the first count's error when none serves."""
    hw = _hardware(hardware)
    found: list[Capacity] = []
    errors: list[InfercostError] = []
    for n in chip_counts(hw):
        try:
            found.append(
                replica_capacity(
                    model,
                    hw,
                    isl=isl,
                    osl=osl,
                    tpot_ms=tpot_ms,
                    ttft_ms=ttft_ms,
                    chips=n,
                    weights=weights,
                    kv=kv,
                    engine=engine,
                )
            )
        except InfercostError as err:
            if not isinstance(err, DoesNotFitError | SloNotMetError) and err.field != "chips":
                raise
            errors.append(err)
    if not found:
        # the most informative failure: an SLO miss (the model fits) over a memory one
        misses = [e for e in errors if isinstance(e, SloNotMetError)]
        raise misses[-1] if misses else errors[-1]  # the most chips: the closest to the target
    return max(found, key=lambda c: (c.requests_per_s_per_chip, -c.chips))


def fractional_hardware(
    hw: Hardware, *, label: str, compute: float, bandwidth: float, memory_gb: float
) -> Hardware:
    """A share of one chip as a chip of its own: peak FLOP/s × `compute`, memory bandwidth ×
    `bandwidth`, `memory_gb` of memory, no scale-up links (MIG instances and MPS clients of one GPU
    are not tensor-parallel with each other)."""
    for name, value in (("compute", compute), ("bandwidth", bandwidth)):
        if not 0 < value <= 1:
            raise InfercostError(name, value, "a share of the chip in (0, 1]")
    if not memory_gb > 0:
        raise InfercostError("memory_gb", memory_gb, "must be > 0")
    if hw.memory_bw_gbps is None:
        raise InfercostError(f"hardware {hw.id}: memory_bw_gbps", None, "unknown in the catalog")
    peaks = {k: (None if v is None else v * compute) for k, v in hw.peak_tflops.items()}
    return hw.model_copy(
        update={
            "id": f"{hw.id}:{label}",
            "name": f"{hw.name} ({label})",
            "aliases": (),
            "peak_tflops": peaks,
            "memory_gb": memory_gb,
            "memory_bw_gbps": hw.memory_bw_gbps * bandwidth,
            "scale_up": ScaleUp(tech=None, domain_size=1, bw_gbps=None),
            "sram_mb": None if hw.sram_mb is None else hw.sram_mb * bandwidth,
        }
    )


__all__ = [
    "Capacity",
    "SloNotMetError",
    "best_capacity",
    "chip_counts",
    "fractional_hardware",
    "replica_capacity",
    "spec_for",
]
