"""Accelerator descriptions. Catalog files use human units (TFLOP/s, GB, GB/s); properties give SI."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from infercost.specs.model import Frozen

PEAK_KEYS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4")
Source = str | list[str]


class ScaleUp(Frozen):
    tech: str | None = None
    domain_size: int | None = Field(1, ge=1)  # chips in one scale-up domain; None = unknown
    bw_gbps: float | None = Field(None, gt=0)  # per chip, per direction
    latency_us: float | None = Field(
        None, ge=0
    )  # per collective hop; overrides the efficiency model's
    # reductions done in the switch or by a collectives engine (NVLink SHARP, TPU 8i CAE): an
    # all-reduce inside the domain moves the message once instead of 2(n-1)/n times
    in_network_reduction: bool = False


class KVTier(Frozen):
    """A memory tier below HBM that can hold KV-cache overflow (host DRAM, CXL, SSD), per chip."""

    name: str
    capacity_gb: float = Field(gt=0)
    bw_gbps: float = Field(gt=0)  # achievable read bandwidth into the chip, per chip


class Hardware(Frozen):
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    vendor: str
    family: str
    kind: Literal["gpu", "tpu", "npu", "cpu", "soc"]
    peak_tflops: dict[str, float | None]
    memory_gb: float | None = Field(None, gt=0)
    memory_bw_gbps: float | None = Field(None, gt=0)
    sram_mb: float | None = Field(None, ge=0)
    sram_bw_gbps: float | None = Field(None, gt=0)  # on-chip SRAM read bandwidth, when sourced
    scale_up: ScaleUp = ScaleUp()
    scale_out_gbps: float | None = Field(None, gt=0)
    tdp_w: float | None = Field(None, gt=0)
    kv_offload: tuple[KVTier, ...] = ()  # host/SSD tiers in order of use; none unless given
    source: Source
    as_of: str | None
    field_sources: dict[str, str] = {}
    notes: str | None = None

    @field_validator("peak_tflops")
    @classmethod
    def _known_keys(cls, value: dict[str, float | None]) -> dict[str, float | None]:
        unknown = sorted(set(value) - set(PEAK_KEYS))
        if unknown:
            raise ValueError(f"unknown peak keys {unknown}; allowed: {', '.join(PEAK_KEYS)}")
        if any(v is not None and v <= 0 for v in value.values()):
            raise ValueError("peak TFLOP/s must be positive or null")
        return value

    def peak_flops(self, key: str) -> float | None:
        """Dense peak FLOP/s (or OP/s) for a compute key, None when unknown or unsupported."""
        tflops = self.peak_tflops.get(key)
        return None if tflops is None else tflops * 1e12

    @property
    def memory_bytes(self) -> float | None:
        return None if self.memory_gb is None else self.memory_gb * 1e9

    @property
    def memory_bw_bytes_per_s(self) -> float | None:
        return None if self.memory_bw_gbps is None else self.memory_bw_gbps * 1e9

    @property
    def scale_up_bytes_per_s(self) -> float | None:
        bw = self.scale_up.bw_gbps
        return None if bw is None else bw * 1e9

    @property
    def scale_out_bytes_per_s(self) -> float | None:
        return None if self.scale_out_gbps is None else self.scale_out_gbps * 1e9

    @property
    def sram_bytes(self) -> float | None:
        return None if self.sram_mb is None else self.sram_mb * 1e6

    @property
    def sram_bw_bytes_per_s(self) -> float | None:
        return None if self.sram_bw_gbps is None else self.sram_bw_gbps * 1e9

    @property
    def drain_time_s(self) -> float | None:
        """HBM capacity ÷ bandwidth: the step time when memory is full and all of it is read."""
        if self.memory_bytes is None or self.memory_bw_bytes_per_s is None:
            return None
        return self.memory_bytes / self.memory_bw_bytes_per_s
