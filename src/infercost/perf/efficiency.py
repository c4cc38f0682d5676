"""The efficiency model: achievable fractions of peak and fixed per-step costs.

Values come from a shipped, versioned file (`catalog/data/efficiency.yaml`); a hardware family may
override any value and an engine may scale the fractions. Calibration rewrites the file, never code.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import Field

from infercost.specs.model import Frozen


class Efficiency(Frozen):
    # fraction of the peak matmuls are timed at; above 1 only where that peak is a fallback for a
    # format whose own rate is unpublished (bf16 timed at fp32 on a CPU spec), as calibration finds
    compute: float = Field(0.65, gt=0, le=4)
    compute_half_tokens: float = Field(4.0, ge=0)
    moe_compute: float = Field(1.0, gt=0, le=1)  # grouped expert GEMMs relative to dense GEMMs
    # rows per expert GEMM at which a grouped GEMM reaches half its rate (None: `compute_half_tokens`)
    moe_half_tokens: float | None = Field(None, ge=0)
    memory: float = Field(0.8, gt=0, le=1)
    kv_memory: float = Field(1.0, gt=0, le=1)  # decode-attention KV streaming relative to `memory`
    comm: float = Field(0.7, gt=0, le=1)
    collective_latency_us: float = Field(5.0, ge=0)
    step_overhead_ms: float = Field(0.5, ge=0)
    request_overhead_ms: float = Field(0.0, ge=0)  # once per request before its first token
    layer_overhead_us: float = Field(8.0, ge=0)
    runtime_reserve_gb: float = Field(1.0, ge=0)  # framework, CUDA context, communication buffers


class EngineScale(Frozen):
    """Multipliers on the fractions and overheads for one serving engine."""

    compute: float = Field(1.0, gt=0)
    memory: float = Field(1.0, gt=0)
    overhead: float = Field(1.0, ge=0)


class Queueing(Frozen):
    """Open-loop (server) serving: how far tails sit above means, how full arrivals keep the batch."""

    tpot_p99_over_mean: float = Field(1.15, ge=1)
    ttft_p99_over_mean: float = Field(3.0, ge=1)
    load_factor: float = Field(0.9, gt=0, le=1)


class Domain(Frozen):
    """What the calibration data covered; predictions outside it are flagged."""

    families: tuple[str, ...] = ()
    engines: tuple[str, ...] = ()
    max_context: int | None = None


class Accuracy(Frozen):
    rows: int
    covered: int
    mdape_pct: float | None
    mape_pct: float | None
    within_25_pct: float | None


class EfficiencyProfile(Frozen):
    version: str
    source: str
    as_of: str | None
    default: Efficiency
    families: dict[str, dict[str, float]] = {}
    engines: dict[str, EngineScale] = {}
    queueing: Queueing = Queueing()
    domain: Domain = Domain()
    # 80 % prediction intervals as (low, high) multipliers of a prediction, from cross-validated
    # residuals; keyed "scenario/metric", "scenario" or "all" (most specific with enough rows wins)
    intervals: dict[str, tuple[float, float]] = {}
    in_sample: Accuracy | None = None
    cross_validated: Accuracy | None = None

    def interval(self, scenario: str, metric: str) -> tuple[float, float] | None:
        for key in (f"{scenario}/{metric}", scenario, "all"):
            if key in self.intervals:
                return self.intervals[key]
        return None

    def outside_domain(self, family: str, engine: str | None, context: int | None) -> str:
        """Why a prediction lies outside the calibrated domain ("" when inside; no engine: any)."""
        reasons = []
        if self.domain.families and family not in self.domain.families:
            reasons.append(f"hardware family {family} has no calibration data")
        if engine and self.domain.engines and engine not in self.domain.engines:
            reasons.append(f"engine {engine} has no calibration data")
        if context is not None and self.domain.max_context and context > self.domain.max_context:
            reasons.append(
                f"context {context} beyond the {self.domain.max_context} tokens calibrated"
            )
        return "; ".join(reasons)

    def resolve(self, family: str, engine: str | None = None) -> Efficiency:
        values: dict[str, Any] = {**self.default.model_dump(), **self.families.get(family, {})}
        scale = self.engines.get(engine or "", EngineScale())
        values["compute"] = min(1.0, values["compute"] * scale.compute)
        values["memory"] = min(1.0, values["memory"] * scale.memory)
        values["step_overhead_ms"] *= scale.overhead
        values["layer_overhead_us"] *= scale.overhead
        return Efficiency.model_validate(values)


@cache
def shipped_profile() -> EfficiencyProfile:
    text = (resources.files("infercost.catalog") / "data" / "efficiency.yaml").read_text()
    return EfficiencyProfile.model_validate(yaml.safe_load(text))
