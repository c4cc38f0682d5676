"""What-if quantization: the same deployment with bf16, fp8, int8, int4 or fp4 weights.

Per format the hardware supports natively (its first `compute_at` key has a peak on the chip; bf16 is
always the baseline): weight bytes per chip, max concurrent sequences at isl + osl (`memory_plan`),
decode step time and throughput at a batch (`perf.steady.fixed_batch`, capped at what fits) and
$/Mtok (`econ.cost.usd_per_mtok`). The quality-loss column holds only published side-by-side numbers
from `catalog/data/quantization_quality.yaml` (source and date on each) or the user's own; otherwise
it says "unknown".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict

from infercost import catalog
from infercost.catalog import DATA
from infercost.econ.cost import usd_per_mtok
from infercost.econ.frontier import PriceSource, price_source
from infercost.errors import InfercostError
from infercost.perf.efficiency import shipped_profile
from infercost.perf.figures import check_layout, check_positive, resolve_parallelism
from infercost.perf.memory import memory_plan
from infercost.perf.resources import Layout, resources_for
from infercost.perf.steady import fixed_batch
from infercost.specs.engine import ENGINE_NAMES
from infercost.specs.hardware import Hardware
from infercost.specs.model import ModelSpec

DEFAULT_FORMATS = ("bf16", "fp8", "int8", "int4", "fp4")
BASELINE = "bf16"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class QualityLoss(_Frozen):
    """Benchmark score lost to quantization, % of the baseline score; None when unknown."""

    loss_pct: float | None
    benchmark: str | None = None
    checkpoint: str | None = None
    baseline_score: float | None = None
    quantized_score: float | None = None
    source: str | None = None  # a URL, "user input", or None (unknown)
    as_of: str | None = None


class QuantizationRow(_Frozen):
    format: str
    bits_per_element: float
    compute_format: str  # peak the weight matmuls run at on this hardware
    weights_bytes_per_chip: float
    weights_vs_baseline: float  # weight bytes ÷ the bf16 weight bytes
    fits: bool
    max_concurrent_sequences: int
    batch: int | None  # the batch timed: the requested one, capped at what fits
    tpot_ms: float | None
    tokens_per_s_per_user: float | None
    output_tps: float | None  # batch ÷ TPOT, per replica
    usd_per_mtok_output: float | None
    quality: QualityLoss


class QuantizationWhatIf(_Frozen):
    model: str
    hardware: str
    chips: int
    tp: int
    pp: int
    kv: str
    isl: int
    osl: int
    batch: int
    price: PriceSource
    rows: list[QuantizationRow]
    skipped: dict[str, str]  # format → why it is not shown
    efficiency_version: str


@cache
def _quality_rows() -> tuple[dict[str, Any], ...]:
    rows = yaml.safe_load((DATA / "quantization_quality.yaml").read_text()) or []
    return tuple(rows)


def published_quality(model_id: str, fmt: str) -> QualityLoss:
    """The catalog's sourced quality loss for a model and format, or an unknown one."""
    for row in _quality_rows():
        if row["model"] != model_id or row["format"] != fmt:
            continue
        base, quant = row.get("baseline_score"), row.get("quantized_score")
        if base is None or quant is None or row.get("source") is None:
            break
        return QualityLoss(
            loss_pct=(float(base) - float(quant)) / float(base) * 100.0,
            benchmark=row.get("benchmark"),
            checkpoint=row.get("checkpoint"),
            baseline_score=float(base),
            quantized_score=float(quant),
            source=row["source"],
            as_of=None if row.get("as_of") is None else str(row["as_of"]),
        )
    return QualityLoss(loss_pct=None)


def supported_formats(hw: Hardware, formats: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Formats whose native compute key has a peak on `hw` (bf16 always kept), and the others."""
    keep: list[str] = []
    skipped: dict[str, str] = {}
    for fmt_id in formats:
        fmt = catalog.number_format(fmt_id, "formats")
        native = fmt.compute_at[0]
        if fmt.id == BASELINE or hw.peak_flops(native) is not None:
            keep.append(fmt.id)
        else:
            skipped[fmt.id] = f"{hw.id} has no {native} peak in the catalog"
    if BASELINE not in keep:
        keep.insert(0, BASELINE)
    return list(dict.fromkeys(keep)), skipped


def quantization_whatif(
    model: str | ModelSpec,
    hardware: str | Hardware,
    *,
    chips: int | None = None,
    tp: int | None = None,
    formats: Sequence[str] | None = None,
    kv: str | None = None,
    batch: int = 64,
    isl: int = 1024,
    osl: int = 256,
    price_per_hour: float | None = None,
    engine: str | None = None,
    quality: Mapping[str, float] | None = None,
    chunk: int = 8192,
    memory_utilization: float = 0.9,
) -> QuantizationWhatIf:
    """The deployment with each weight format: memory, concurrency, speed, $/Mtok, quality loss.

    `quality` maps a format id to a user-measured loss in % of the baseline score (source "user
    input"); it overrides the catalog's published number.
    """
    if engine is not None and engine not in ENGINE_NAMES:
        raise InfercostError("engine", engine, f"allowed: {' '.join(ENGINE_NAMES)}")
    for name, value in (("batch", batch), ("isl", isl), ("osl", osl), ("chunk", chunk)):
        check_positive(name, value)
    spec = catalog.model(model) if isinstance(model, str) else model
    hw = catalog.hardware(hardware) if isinstance(hardware, str) else hardware
    parallelism = resolve_parallelism(spec, chips, tp, None, None, None)
    check_layout(spec, parallelism)
    layout = Layout.of(parallelism)
    price = price_source(hw, price_per_hour)
    profile = shipped_profile()
    efficiency = profile.resolve(hw.family, engine)
    chosen, skipped = supported_formats(hw, formats or DEFAULT_FORMATS)
    user = dict(quality or {})
    for fmt_id, given in user.items():
        if fmt_id not in chosen:
            raise InfercostError(
                "quality", fmt_id, f"not among the formats shown ({' '.join(chosen)})"
            )
        if not np.isfinite(given):
            raise InfercostError(f"quality.{fmt_id}", given, "must be a finite % of the baseline")
    n = parallelism.chips
    rows: list[QuantizationRow] = []
    baseline_bytes: float | None = None
    kv_id = ""
    for fmt_id in chosen:
        precision = catalog.precision(fmt_id, kv)
        kv_id = precision.kv.id
        res = resources_for(hw, precision, efficiency)
        plan = memory_plan(
            spec,
            res,
            layout,
            context=isl + osl,
            memory_utilization=memory_utilization,
            max_batched_tokens=chunk,
        )
        weights = float(plan.weights_bytes)
        if baseline_bytes is None:
            baseline_bytes = weights
        fits = float(plan.kv_free_bytes) > 0 and float(plan.max_concurrent_sequences) >= 1
        max_seqs = int(min(float(plan.max_concurrent_sequences), 2**62)) if fits else 0
        tpot = speed = tps = cost = None
        timed: int | None = None
        if fits:
            timed = min(batch, max_seqs)
            run = fixed_batch(spec, res, layout, batch=timed, isl=isl, osl=osl, budget=chunk)
            step = float(run.tpot_s)
            if np.isfinite(step):
                tpot, speed, tps = step * 1e3, 1.0 / step, timed / step
                cost = float(usd_per_mtok(price.usd_per_chip_hour, n, step, timed))
        if fmt_id in user:
            loss = QualityLoss(loss_pct=float(user[fmt_id]), source="user input")
        elif fmt_id == BASELINE:
            loss = QualityLoss(loss_pct=0.0, source="baseline")
        else:
            loss = published_quality(spec.id, fmt_id)
        rows.append(
            QuantizationRow(
                format=fmt_id,
                bits_per_element=precision.weights.bits_per_element,
                compute_format=precision.compute_key(hw),
                weights_bytes_per_chip=weights,
                weights_vs_baseline=weights / baseline_bytes,
                fits=fits,
                max_concurrent_sequences=max_seqs,
                batch=timed,
                tpot_ms=tpot,
                tokens_per_s_per_user=speed,
                output_tps=tps,
                usd_per_mtok_output=cost,
                quality=loss,
            )
        )
    return QuantizationWhatIf(
        model=spec.id,
        hardware=hw.id,
        chips=n,
        tp=parallelism.tp,
        pp=parallelism.pp,
        kv=kv_id,
        isl=isl,
        osl=osl,
        batch=batch,
        price=price,
        rows=rows,
        skipped=skipped,
        efficiency_version=profile.version,
    )


__all__ = [
    "DEFAULT_FORMATS",
    "QualityLoss",
    "QuantizationRow",
    "QuantizationWhatIf",
    "published_quality",
    "quantization_whatif",
    "supported_formats",
]
