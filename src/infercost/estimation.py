"""`estimate`: one deployment, one workload point → timings with their breakdown, memory, dollars.

This module only composes: specs from the catalog, `perf` for time and memory, `econ` for money.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from infercost import catalog
from infercost.calibration.profile import CalibrationRef, load_calibration
from infercost.econ.cost import usd_per_mtok
from infercost.errors import InfercostError
from infercost.perf.efficiency import shipped_profile
from infercost.perf.figures import figures, resolve_parallelism
from infercost.perf.resources import resources_for
from infercost.perf.step import StepTime
from infercost.specs.engine import ENGINE_NAMES
from infercost.specs.hardware import Hardware
from infercost.specs.model import ModelSpec


class Breakdown(BaseModel):
    model_config = ConfigDict(frozen=True)

    compute_ms: float
    weights_ms: float
    kv_ms: float
    comm_ms: float
    overhead_ms: float
    total_ms: float

    @classmethod
    def of(cls, step: StepTime, extra_overhead_s: float = 0.0) -> Breakdown:
        """Milliseconds by cause; array-valued steps (e.g. all prefill chunks) are summed."""
        parts = {f"{k}_ms": float(np.sum(v)) * 1e3 for k, v in step.breakdown_s().items()}
        parts["overhead_ms"] += extra_overhead_s * 1e3
        return cls(**parts, total_ms=(float(np.sum(step.total)) + extra_overhead_s) * 1e3)


class Provenance(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_source: str | None
    hardware_source: str | list[str]
    hardware_as_of: str | None
    price_source: str | None
    price_as_of: str | None
    efficiency_version: str
    compute_format: str


class Interval(BaseModel):
    """80 % prediction interval from cross-validated residuals (None before calibration)."""

    model_config = ConfigDict(frozen=True)

    low: float
    high: float


class Estimate(BaseModel):
    """Everything `infercost estimate` reports. Times in ms, memory in bytes, prices in USD."""

    model_config = ConfigDict(frozen=True)

    model: str
    hardware: str
    chips: int
    tp: int
    pp: int
    dp: int
    ep: int
    weights: str
    kv: str
    batch: int
    isl: int
    osl: int
    ttft_ms: float
    tpot_ms: float
    decode_tps: float
    output_tps: float
    output_tps_per_chip: float
    tokens_per_s_per_user: float
    latency_floor_ms: float
    critical_batch: float | None
    total_params: int
    active_params: int
    weights_bytes_per_chip: float
    kv_bytes_per_token: float
    kv_bytes_per_token_per_chip: float
    kv_free_bytes_per_chip: float
    kv_capacity_tokens: float
    max_concurrent_sequences: float
    usd_per_chip_hour: float | None
    usd_per_hour: float | None
    usd_per_mtok_output: float | None
    usd_per_mtok_input: float | None
    usd_per_request: float | None
    intervals: dict[str, Interval]  # per headline metric (tpot_ms, ttft_ms, output_tps)
    outside_calibrated_domain: str  # why these numbers are extrapolated ("" when inside)
    breakdown: Breakdown  # one decode step
    prefill_breakdown: Breakdown  # the whole prompt (all chunks)
    prefill_chunks_ms: list[float]  # time of each prefill chunk, in order
    provenance: Provenance


def estimate(
    model: str | ModelSpec,
    hardware: str | Hardware,
    *,
    chips: int | None = None,
    tp: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    ep: int | None = None,
    weights: str | None = None,
    kv: str | None = None,
    batch: int = 1,
    isl: int = 1024,
    osl: int = 256,
    price_per_hour: float | None = None,
    engine: str | None = None,
    chunk: int = 8192,
    memory_utilization: float = 0.9,
    calibration: CalibrationRef | None = None,
) -> Estimate:
    """Time, memory and cost of serving `model` on `hardware` at one workload point.

    `price_per_hour` is per chip; without it the catalog default price for the hardware is used
    (its source and date are in `provenance`), and costs are None when the catalog has none.
    `calibration` (a profile or its YAML path, from `infercost calibrate`) replaces the shipped
    efficiency for the calibrated hardware family; a different model or hardware is flagged in
    `outside_calibrated_domain`.
    """
    if engine is not None and engine not in ENGINE_NAMES:
        raise InfercostError("engine", engine, f"allowed: {' '.join(ENGINE_NAMES)}")
    spec = catalog.model(model) if isinstance(model, str) else model
    hw = catalog.hardware(hardware) if isinstance(hardware, str) else hardware
    layout = resolve_parallelism(spec, chips, tp, pp, dp, ep)
    precision = catalog.precision(weights or spec.native_weights, kv)
    cal = load_calibration(calibration) if calibration is not None else None
    profile = cal.efficiency_profile() if cal else shipped_profile()
    engine = engine or (cal.deployment.engine if cal else None)  # the engine calibrated
    res = resources_for(hw, precision, profile.resolve(hw.family, engine))
    fig = figures(
        spec,
        res,
        layout,
        batch=batch,
        isl=isl,
        osl=osl,
        chunk=chunk,
        memory_utilization=memory_utilization,
        hw_id=hw.id,
    )

    if price_per_hour is not None and price_per_hour < 0:
        raise InfercostError("price_per_hour", price_per_hour, "must be ≥ 0 (USD per chip-hour)")
    catalog_price = None if price_per_hour is not None else catalog.default_price(hw.id)
    price = (
        price_per_hour
        if price_per_hour is not None
        else (catalog_price.usd_per_chip_hour if catalog_price else None)
    )
    n = layout.chips
    usd_out = usd_in = usd_request = usd_hour = None
    if price is not None:
        usd_hour = price * n
        usd_out = float(usd_per_mtok(price, n, fig.tpot_s, batch))
        usd_in = float(usd_per_mtok(price, n, fig.ttft_s, isl))
        usd_request = (usd_in * isl + usd_out * osl) / 1e6

    plan = fig.memory
    kv_bytes = precision.kv.bytes_per_element
    scenario = "single-stream" if batch == 1 else "fixed-batch"
    intervals = {}
    for metric, value in (
        ("tpot_ms", fig.tpot_s * 1e3),
        ("ttft_ms", fig.ttft_s * 1e3),
        ("output_tps", fig.output_tps),
    ):
        band = profile.interval(scenario, metric)
        if band:
            intervals[metric] = Interval(low=value * band[0], high=value * band[1])
    return Estimate(
        model=spec.id,
        hardware=hw.id,
        chips=n,
        tp=layout.tp,
        pp=layout.pp,
        dp=layout.dp,
        ep=layout.ep,
        weights=precision.weights.id,
        kv=precision.kv.id,
        batch=batch,
        isl=isl,
        osl=osl,
        ttft_ms=fig.ttft_s * 1e3,
        tpot_ms=fig.tpot_s * 1e3,
        decode_tps=fig.decode_tps,
        output_tps=fig.output_tps,
        output_tps_per_chip=fig.output_tps / n,
        tokens_per_s_per_user=1.0 / fig.tpot_s,
        latency_floor_ms=fig.latency_floor_s * 1e3,
        critical_batch=fig.critical_batch,
        total_params=spec.total_params,
        active_params=spec.active_params,
        weights_bytes_per_chip=float(plan.weights_bytes),
        kv_bytes_per_token=spec.kv_bytes_per_token(kv_bytes),
        kv_bytes_per_token_per_chip=float(plan.kv_bytes_per_token),
        kv_free_bytes_per_chip=float(plan.kv_free_bytes),
        kv_capacity_tokens=float(plan.kv_capacity_tokens),
        max_concurrent_sequences=float(plan.max_concurrent_sequences),
        usd_per_chip_hour=price,
        usd_per_hour=usd_hour,
        usd_per_mtok_output=usd_out,
        usd_per_mtok_input=usd_in,
        usd_per_request=usd_request,
        intervals=intervals,
        outside_calibrated_domain="; ".join(
            r
            for r in (
                profile.outside_domain(hw.family, engine, isl + osl),
                cal.outside_domain(spec.id, hw.id) if cal else "",
            )
            if r
        ),
        breakdown=Breakdown.of(fig.decode),
        prefill_breakdown=Breakdown.of(fig.prefill, float(res.request_overhead_s)),
        prefill_chunks_ms=[float(t) * 1e3 for t in np.atleast_1d(fig.prefill.total)],
        provenance=Provenance(
            model_source=spec.source,
            hardware_source=hw.source,
            hardware_as_of=hw.as_of,
            price_source="--price-per-hour"
            if price_per_hour is not None
            else (f"{catalog_price.provider}: {catalog_price.source}" if catalog_price else None),
            price_as_of=catalog_price.as_of if catalog_price else None,
            efficiency_version=profile.version,
            compute_format=precision.compute_key(hw),
        ),
    )


__all__ = ["Estimate", "estimate"]
