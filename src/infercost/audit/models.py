"""What an audit returns: frozen result models (the CLI, report and JSON render these)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from infercost.audit.recommend import Recommendation


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class AuditedFile(_Frozen):
    path: str
    sha256: str
    kind: str
    added: bool  # False: it was already in the store


class UtilizationSummary(_Frozen):
    source: Literal["gpu", "engine", "requests"] | None  # which signal gave the shares
    devices: int  # GPUs (or MIG instances) seen at once
    gpus: int  # physical chips paid for
    replicas: int
    chips_per_replica: int
    observed_s: float
    idle_share: float | None
    underused_share: float | None
    busy_share: float | None
    mean_utilization: float | None  # mean GPU utilization, or load ÷ batch capacity
    idle_below: float
    underused_below: float


class ThroughputSummary(_Frozen):
    output_tokens: float | None
    achieved_output_tps: float | None  # mean over the window, all replicas
    achieved_output_tps_p95: float | None  # 95th percentile of the time bins
    achieved_output_tps_peak: float | None
    isl: float | None  # mean prompt tokens per request
    osl: float | None  # mean output tokens per request
    lengths_source: str | None
    mean_running: float | None  # requests running per replica while busy
    observed_tpot_ms: float | None  # mean, from the engine's histogram
    batch: int | None  # the batch a replica is modelled at (its cap, or what it can hold)
    attainable_output_tps_per_replica: float | None
    attainable_output_tps: float | None  # all replicas
    model_output_tps_at_observed_load: float | None  # per replica, at mean_running
    capacity_utilization: float | None  # achieved ÷ attainable
    needed_replicas: float | None  # for the p95 load at TARGET_LOAD
    needed_replicas_basis: str | None
    efficiency_version: str | None


class KvSummary(_Frozen):
    usage_mean: float | None
    usage_p95: float | None
    usage_max: float | None
    headroom: float | None  # 1 − p95 usage
    engine_capacity_tokens: float | None  # vLLM: GPU blocks × block size
    engine_max_concurrency: float | None  # vLLM's own estimate at max_model_len
    model_max_sequences: int | None  # at the observed lengths, from the memory plan
    peak_running: float | None
    peak_waiting: float | None
    capped_at: int | None  # a batch cap seen in the data
    preemptions: float | None
    prefix_caching_enabled: bool | None
    prefix_hit_rate: float | None


class MoneySummary(_Frozen):
    usd_per_chip_hour: float | None
    price_source: str | None
    spend_usd_per_month: float | None
    idle_usd_per_month: float | None
    wasted_usd_per_month: float | None
    wasted_share: float | None
    waste_basis: str | None
    usd_per_mtok_output_observed: float | None  # spend ÷ tokens actually produced


class AuditReport(_Frozen):
    start: datetime | None
    end: datetime | None
    duration_s: float
    bin_s: float
    files: list[AuditedFile]
    model: str | None
    hardware: str | None
    utilization: UtilizationSummary
    throughput: ThroughputSummary
    kv: KvSummary
    money: MoneySummary
    recommendations: list[Recommendation]
    skipped: dict[str, str]  # recommendation → why it does not apply
    notes: list[str]
    timeline: dict[str, list[float | None]]  # per time bin: time_s and the series


# --- pieces ---------------------------------------------------------------------------------------
