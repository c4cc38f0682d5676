"""The planner's search space and the plan file that describes it.

A plan file is a simulate scenario without the deployment: the model, the SLO and the same
`workload:` block (`infercost.sim.workload`), plus what to search (`search:`) and how to verify
(`verify:`):

```yaml
name: chat-70b
model: llama-3.1-70b
slo: {ttft_ms: 1000, tpot_ms: 50, percentile: 99}
workload: {...}                    # exactly as in a simulate scenario
search:                            # every field optional
  hardware: [h100-sxm, h200]       # default: every catalog chip with a price
  weights: [native, fp8]           # "native": the checkpoint's own format
  kv: [bf16, fp8]
  max_chips_per_replica: 16        # chips per replica: 1, 2, 4, … up to this
  max_num_seqs: [64, 128, 256, 512]
  chunk: [2048, 8192]              # max_num_batched_tokens (chunked-prefill budget)
  modes: [aggregated, disaggregated]
  engine: vllm
  headroom: 0.1                    # spare capacity kept above the planned load
  prices: {h100-sxm: 2.2}          # USD per chip-hour, overriding the catalog default
verify: {top: 5, duration_s: 60, warmup_s: 10, max_extra_replicas: 3, trim: 4}
```

The space is the product hardware × layout (chips per replica, tp, pp, ep) × weight format × KV
format × max_num_seqs × chunk × mode; replicas are not searched but sized for the load by the screen.
Layouts are every tp × pp split of each chip count that `perf.figures.check_layout` accepts (ep = 1,
and ep = tp for MoE models when the experts divide); attention data parallelism is not searched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from infercost import catalog
from infercost.errors import InfercostError
from infercost.perf.efficiency import EfficiencyProfile, shipped_profile
from infercost.perf.figures import check_layout
from infercost.perf.resources import resources_for
from infercost.sim.workload import SLO, ClosedArrival, WorkloadSpec, user_error
from infercost.specs.engine import ENGINE_NAMES
from infercost.specs.hardware import Hardware
from infercost.specs.model import Frozen, ModelSpec
from infercost.specs.parallelism import Parallelism

Mode = Literal["aggregated", "disaggregated"]
MODES: tuple[Mode, ...] = ("aggregated", "disaggregated")
NATIVE = "native"
# Formats a GPU engine serves (GGUF block types are llama.cpp's and not searched here).
GPU_WEIGHT_FORMATS = ("bf16", "fp16", "fp8", "int8", "int4", "fp4", "nvfp4", "mxfp4")
KV_FORMATS = ("bf16", "fp16", "fp8")


class SearchSpec(Frozen):
    """What the planner may choose (the `search:` block)."""

    hardware: tuple[str, ...] | None = None
    weights: tuple[str, ...] = (NATIVE, "fp8")
    kv: tuple[str, ...] = ("bf16", "fp8")
    max_chips_per_replica: int = Field(16, ge=1, le=256)
    chips_per_replica: tuple[int, ...] | None = None
    max_num_seqs: tuple[int, ...] = (64, 128, 256, 512)
    chunk: tuple[int, ...] = (2048, 8192)
    modes: tuple[Mode, ...] = MODES
    engine: str = "vllm"
    memory_utilization: float | None = Field(None, gt=0, le=1)
    headroom: float = Field(0.1, ge=0, le=10)
    max_replicas: int = Field(512, ge=1)
    prices: dict[str, float] = {}

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for w in value:
            if w != NATIVE and w not in GPU_WEIGHT_FORMATS:
                raise InfercostError(
                    "weights", w, f"allowed: {NATIVE} {' '.join(GPU_WEIGHT_FORMATS)}"
                )
        return _non_empty("weights", value)

    @field_validator("kv")
    @classmethod
    def _kv(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for k in value:
            if k not in KV_FORMATS:
                raise InfercostError("kv", k, f"allowed: {' '.join(KV_FORMATS)}")
        return _non_empty("kv", value)

    @field_validator("max_num_seqs", "chunk", "chips_per_replica")
    @classmethod
    def _positive(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None:
            _non_empty("values", value)
            for v in value:
                if v < 1:
                    raise InfercostError("", v, "must be whole numbers ≥ 1")
        return value

    @field_validator("modes")
    @classmethod
    def _modes(cls, value: tuple[Mode, ...]) -> tuple[Mode, ...]:
        return _non_empty("modes", value)

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        if value not in ENGINE_NAMES:
            raise InfercostError("engine", value, f"allowed: {' '.join(ENGINE_NAMES)}")
        return value

    @field_validator("prices")
    @classmethod
    def _prices(cls, value: dict[str, float]) -> dict[str, float]:
        for hw, p in value.items():
            if not p > 0:
                raise InfercostError(hw, p, "must be > 0 (USD per chip-hour)")
        return value


class VerifySpec(Frozen):
    """How the best screened candidates are checked by the simulator (the `verify:` block)."""

    top: int = Field(5, ge=1, le=100)  # candidates simulated per round, cheapest first
    duration_s: float | None = Field(60.0, gt=0)  # simulated seconds (None: the workload's rule)
    warmup_s: float = Field(10.0, ge=0)  # requests arriving earlier are left out of percentiles
    max_extra_replicas: int = Field(3, ge=0, le=64)  # added one at a time to a failing candidate
    trim: int = Field(4, ge=0, le=64)  # replicas a passing candidate may give back, one at a time
    max_rounds: int = Field(4, ge=1, le=100)  # rounds of `top` before giving up
    seed: int | None = None  # default: the workload's seed


class PlanRequest(Frozen):
    """A whole plan file: model, SLO, workload, search space and verification."""

    name: str = "plan"
    model: str
    served_model: str | None = None  # Hugging Face repo for the launch commands
    slo: SLO | None = None
    workload: WorkloadSpec
    search: SearchSpec = SearchSpec()
    verify: VerifySpec = VerifySpec()

    @model_validator(mode="after")
    def _targets(self) -> PlanRequest:
        if isinstance(self.workload.arrival, ClosedArrival):
            raise InfercostError(
                "workload.arrival.kind",
                "closed",
                "a plan sizes replicas for an offered load; use an open arrival (poisson, gamma, "
                "constant, curve or trace)",
            )
        slos = [self.slo, *self.workload.slos.values()]
        if not any(s is not None and (s.ttft_ms or s.tpot_ms or s.e2e_ms) for s in slos):
            raise InfercostError(
                "slo", None, "give at least one target (ttft_ms, tpot_ms or e2e_ms) to plan for"
            )
        return self

    def class_slos(self) -> dict[str, SLO]:
        """The SLO of each class: its own, else the plan's."""
        out = {}
        for c in self.workload.classes:
            slo = c.slo or self.slo
            if slo is not None:
                out[c.name] = slo
        return out


def _non_empty(name: str, value: tuple[Any, ...]) -> tuple[Any, ...]:
    if not value:
        raise InfercostError(name, [], "give at least one")
    return value


def load_plan(source: str | Path | dict[str, Any]) -> PlanRequest:
    """A validated `PlanRequest` from a YAML file or a mapping; mistakes are one-line errors."""
    base = Path(".")
    data: Any = source
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise InfercostError("plan", str(path), f"cannot be read ({err.strerror})") from None
        except yaml.YAMLError as err:
            raise InfercostError("plan", str(path), f"is not valid YAML ({err})") from None
        base = path.parent
    if not isinstance(data, dict):
        raise InfercostError("plan", type(data).__name__, "a mapping with model, slo, workload")
    try:
        return PlanRequest.model_validate(data, context={"base_dir": base})
    except ValidationError as err:
        raise user_error(err, data, prefix="") from None


# --- the space ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedHardware:
    hardware: Hardware
    usd_per_chip_hour: float
    price_source: str
    price_as_of: str | None


@dataclass(frozen=True)
class Space:
    """Every axis of the search, resolved against the catalog."""

    model: ModelSpec
    hardware: tuple[PricedHardware, ...]
    layouts: tuple[Parallelism, ...]
    precisions: tuple[tuple[str, str], ...]  # (weights id, kv id)
    max_num_seqs: tuple[int, ...]
    chunks: tuple[int, ...]
    modes: tuple[Mode, ...]
    engine: str
    memory_utilization: float
    skipped: tuple[str, ...]  # hardware left out, and why
    efficiency: EfficiencyProfile  # the shipped profile, or a deployment's calibration

    @property
    def size(self) -> int:
        """Points screened (hardware × layout × precision × max_num_seqs × chunk × mode)."""
        return (
            len(self.hardware)
            * len(self.layouts)
            * len(self.precisions)
            * len(self.max_num_seqs)
            * len(self.chunks)
            * len(self.modes)
        )


def chip_counts(search: SearchSpec) -> list[int]:
    if search.chips_per_replica is not None:
        return sorted(set(search.chips_per_replica))
    out, n = [], 1
    while n <= search.max_chips_per_replica:
        out.append(n)
        n *= 2
    return out


def valid_layouts(model: ModelSpec, chips: list[int]) -> list[Parallelism]:
    """Every tp × pp split of each chip count the engines can run (ep = 1, or ep = tp for MoE)."""
    out = []
    moe = any(g.ffn.num_experts for g in model.layers)
    for n in chips:
        for tp in (t for t in range(1, n + 1) if n % t == 0):
            for ep in sorted({1, tp} if moe else {1}):
                candidate = Parallelism(tp=tp, pp=n // tp, ep=ep)
                try:
                    check_layout(model, candidate)
                except InfercostError:
                    continue
                out.append(candidate)
    return out


def weight_supported(hw: Hardware, fmt: str) -> bool:
    """Whether an engine serves these weights on this chip (vLLM docs, see catalog formats.yaml):
    INT8 W8A8 is not supported on Blackwell; FP4 formats need an FP4 tensor-core peak."""
    if fmt == "int8" and hw.family == "blackwell":
        return False
    return not (fmt in ("fp4", "nvfp4", "mxfp4") and hw.peak_flops("fp4") is None)


def _priced(search: SearchSpec, refs: list[str] | None) -> tuple[list[PricedHardware], list[str]]:
    explicit = refs if refs is not None else search.hardware
    chips = (
        [catalog.hardware(r) for r in explicit] if explicit is not None else catalog.all_hardware()
    )
    prices = {catalog.hardware(k).id: v for k, v in search.prices.items()}
    out, skipped = [], []
    for hw in {h.id: h for h in reversed(chips)}.values().__reversed__():  # order kept, no repeats
        if hw.id in prices:
            out.append(PricedHardware(hw, prices[hw.id], "search.prices (user input)", None))
            continue
        row = catalog.default_price(hw.id)
        if row is None:
            if explicit is not None:
                raise InfercostError(
                    "search.prices",
                    hw.id,
                    "the catalog has no price for it; give one (USD per chip-hour)",
                )
            skipped.append(f"{hw.id}: no catalog price")
            continue
        if hw.memory_gb is None or hw.memory_bw_gbps is None:
            skipped.append(f"{hw.id}: memory size or bandwidth unknown")
            continue
        out.append(
            PricedHardware(
                hw, row.usd_per_chip_hour, f"{row.provider} {row.term}: {row.source}", row.as_of
            )
        )
    if not out:
        raise InfercostError("search.hardware", explicit, "no hardware with a price to plan on")
    return out, skipped


def build_space(
    request: PlanRequest,
    hardware: list[str] | None = None,
    efficiency: EfficiencyProfile | None = None,
) -> Space:
    """Resolve the search block: priced hardware, valid layouts, precisions, scheduler limits."""
    search = request.search
    model = catalog.model(request.model)
    priced, skipped = _priced(search, hardware)
    layouts = valid_layouts(model, chip_counts(search))
    if not layouts:
        raise InfercostError(
            "search.max_chips_per_replica",
            search.max_chips_per_replica,
            f"no valid tp × pp layout of {model.id} up to this many chips",
        )
    weights = [model.native_weights if w == NATIVE else w for w in search.weights]
    precisions = tuple(dict.fromkeys((w, k) for w in weights for k in search.kv))
    for w, k in precisions:
        catalog.precision(w, k)  # unknown ids fail here, once
    engine = catalog.engine(search.engine)
    utilization = search.memory_utilization or engine.memory_utilization or 0.9
    return Space(
        model=model,
        hardware=tuple(priced),
        layouts=tuple(layouts),
        precisions=precisions,
        max_num_seqs=tuple(sorted(set(search.max_num_seqs))),
        chunks=tuple(sorted(set(search.chunk))),
        modes=tuple(dict.fromkeys(search.modes)),
        engine=search.engine,
        memory_utilization=utilization,
        skipped=tuple(skipped),
        efficiency=efficiency or shipped_profile(),
    )


def usable_hardware(space: Space, weights: str, kv: str) -> list[PricedHardware]:
    """The hardware of the space that can run this precision (peaks known, format served)."""
    precision = catalog.precision(weights, kv)
    profile = space.efficiency
    out = []
    for ph in space.hardware:
        if not weight_supported(ph.hardware, weights):
            continue
        try:
            resources_for(ph.hardware, precision, profile.resolve(ph.hardware.family, space.engine))
        except InfercostError:
            continue
        out.append(ph)
    return out
