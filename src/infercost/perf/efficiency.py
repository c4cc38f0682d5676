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
    compute: float = Field(0.65, gt=0, le=1)
    compute_half_tokens: float = Field(4.0, ge=0)
    memory: float = Field(0.8, gt=0, le=1)
    comm: float = Field(0.7, gt=0, le=1)
    collective_latency_us: float = Field(5.0, ge=0)
    step_overhead_ms: float = Field(0.5, ge=0)
    layer_overhead_us: float = Field(8.0, ge=0)
    runtime_reserve_gb: float = Field(1.0, ge=0)  # framework, CUDA context, communication buffers


class EngineScale(Frozen):
    """Multipliers on the fractions and overheads for one serving engine."""

    compute: float = Field(1.0, gt=0)
    memory: float = Field(1.0, gt=0)
    overhead: float = Field(1.0, ge=0)


class EfficiencyProfile(Frozen):
    version: str
    source: str
    as_of: str | None
    default: Efficiency
    families: dict[str, dict[str, float]] = {}
    engines: dict[str, EngineScale] = {}

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
