"""Request bodies of the JSON API: the CLI's options as fields, with bounds a server can afford.

Field names and defaults are those of the matching CLI command, so a request reads like the command
line it replaces. Bounds here are static sanity limits (a malformed request gets 422); the
configurable server limits (`Limits`) are checked where the work is done and answer 400.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from infercost.econ.workload_cost import WorkloadSpec as CostWorkload
from infercost.plan.space import PlanRequest
from infercost.sim.scenario import Scenario

Ref = Annotated[str, Field(min_length=1, max_length=300)]
FormatId = Annotated[str, Field(min_length=1, max_length=40)]
Chips = Annotated[int, Field(ge=1, le=4096)]
Batch = Annotated[int, Field(ge=1, le=65_536)]
Tokens = Annotated[int, Field(ge=1, le=10_000_000)]
Usd = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EstimateRequest(_Request):
    """`infercost estimate MODEL --hardware ID [...]`."""

    model: Ref = Field(description="Catalog model id, or a config.json path in the data directory.")
    hardware: Ref = Field(
        description="Catalog hardware id or alias, or a spec YAML in the data dir."
    )
    chips: Chips | None = Field(None, description="Chips per replica (default tp×pp×dp).")
    tp: Chips | None = Field(None, description="Tensor-parallel degree.")
    pp: Chips | None = Field(None, description="Pipeline-parallel stages.")
    dp: Chips | None = Field(None, description="Attention data-parallel groups.")
    ep: Chips | None = Field(None, description="Expert-parallel degree (MoE).")
    weights: FormatId | None = Field(None, description="Weight format (default: the model's).")
    kv: FormatId | None = Field(None, description="KV-cache format (default: bf16).")
    batch: Batch = Field(1, description="Concurrent sequences decoding.")
    isl: Tokens = Field(1024, description="Prompt (input) tokens per request.")
    osl: Tokens = Field(256, description="Output tokens per request.")
    price_per_hour: Usd | None = Field(None, description="USD per chip-hour (default: catalog).")
    engine: FormatId | None = Field(None, description="Engine profile: vllm, trtllm, …")
    calibration: Ref | None = Field(
        None, description="Deployment calibration profile YAML in the data directory."
    )


class FrontierRequest(_Request):
    """`infercost frontier MODEL --hardware ID [...]`."""

    model: Ref
    hardware: Ref
    chips: Chips | None = Field(None, description="Chips per replica (default: fewest that fit).")
    tp: Chips | None = None
    weights: FormatId | None = None
    kv: FormatId | None = None
    isl: Tokens = 1024
    osl: Tokens = 256
    price_per_hour: Usd | None = None
    engine: FormatId | None = None
    speed: Positive | None = Field(
        None, description="Fast mode: tokens/s per user as a multiple of the cheapest point."
    )
    batches: list[Batch] | None = Field(
        None, max_length=65_536, description="Batches to sweep (default: 1, 2, 4, … that fit)."
    )
    sweep_chips: list[Chips] | None = Field(
        None,
        max_length=64,
        description="Also sweep chips per replica: the Pareto set across them (like --sweep-chips).",
    )


class CompareRequest(_Request):
    """`infercost compare MODEL --hardware A,B,...`."""

    model: Ref
    hardware: list[Ref] = Field(min_length=1, max_length=16)
    chips: Chips | None = None
    batch: Batch | None = None
    isl: Tokens = 1024
    osl: Tokens = 256
    tpot_slo_ms: Positive | None = None
    price_per_hour: dict[Ref, Usd] | None = Field(
        None, max_length=16, description="USD per chip-hour by hardware id."
    )
    engine: FormatId | None = None
    target_batch: Batch | None = None
    weights: FormatId | None = None
    kv: FormatId | None = None
    with_sensitivity: bool = False


class PriceDecodeRequest(_Request):
    """`infercost price decode SHEET [...]`."""

    sheet: Ref = Field(description="PROVIDER/MODEL from GET /api/prices/sheets, or a YAML sheet.")
    like: Ref = Field("llama-3.1-70b", description="Comparable open model (catalog id).")
    hardware: Ref = "h100-sxm"
    chips: Chips | None = None
    batch: Batch = 64
    isl: Tokens = 2048
    osl: Tokens = 512
    price_per_hour: Usd | None = None
    cache_ttl_s: Positive | None = None


class PriceSheetRequest(_Request):
    """`infercost price sheet MODEL --hardware ID [...]`: a cost-based price sheet."""

    model: Ref
    hardware: Ref
    chips: Chips | None = None
    margin: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.4
    utilization: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 1.0
    isl: Tokens = 2048
    osl: Tokens = 512
    tpot_ms: Positive | None = None
    batch: Batch | None = None
    price_per_hour: Usd | None = None
    long_context_tokens: Tokens | None = None
    fast_speed: Positive = 2.0
    cache_ttl_s: Positive = 300.0


class SimulateRequest(_Request):
    """A scenario (inline, or a YAML file in the data directory) and an optional seed."""

    scenario: Scenario | None = Field(None, description="The scenario, as in a scenario YAML.")
    scenario_file: Ref | None = Field(None, description="A scenario YAML in the data directory.")
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = None
    calibration: Ref | None = Field(
        None, description="Deployment calibration profile YAML in the data directory."
    )


class PlanApiRequest(_Request):
    """`infercost plan PLAN.yaml [--hardware ...] [--top N] [--verify-duration S]`."""

    plan: PlanRequest | None = Field(None, description="The plan, as in a plan YAML.")
    plan_file: Ref | None = Field(None, description="A plan YAML in the data directory.")
    hardware: list[Ref] | None = Field(
        None, max_length=64, description="Search only these chips (default: the plan's)."
    )
    top: Annotated[int, Field(ge=1, le=20)] | None = Field(
        None, description="Deployments simulated per verification round."
    )
    verify_duration_s: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] | None = None


class AuditFields(BaseModel):
    """The options of `infercost audit` that describe the deployment behind the uploaded files
    (form fields beside `files`, so other form fields are not refused)."""

    model_config = ConfigDict(frozen=True)

    hardware: Ref | None = Field(None, description="Catalog id (with model: the throughput model).")
    model: Ref | None = Field(None, description="Catalog model id.")
    price_per_hour: Usd | None = Field(None, description="USD per chip-hour (default: catalog).")
    engine: FormatId = "vllm"
    tp: Chips | None = None
    pp: Chips | None = None
    weights: FormatId | None = None
    kv: FormatId | None = None
    gpus: Chips | None = Field(None, description="GPUs paid for (default: as many as seen).")
    replicas: Chips | None = None
    max_num_seqs: Batch | None = None
    isl: Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)] | None = None
    osl: Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False)] | None = None
    tpot_slo_ms: Positive | None = None
    candidates: Annotated[str, Field(max_length=1000)] | None = Field(
        None, description="Comma-separated GPU ids to consider moving to."
    )


CostRequest = CostWorkload  # the `infercost cost` workload file, as JSON

__all__ = [
    "AuditFields",
    "CompareRequest",
    "CostRequest",
    "EstimateRequest",
    "FrontierRequest",
    "PlanApiRequest",
    "PriceDecodeRequest",
    "PriceSheetRequest",
    "SimulateRequest",
]


def as_kwargs(request: BaseModel, *exclude: str) -> dict[str, Any]:
    """The fields as keyword arguments of the library call (unset ones at their defaults)."""
    return {k: getattr(request, k) for k in type(request).model_fields if k not in exclude}
