"""Numeric views of hardware × precision × efficiency, as numpy arrays so grids broadcast.

A `Resources` holds effective rates for one or many hardware points; a `Layout` holds tp/pp/dp/ep for
one or many layouts. Both broadcast against each other and against batch and context arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from infercost._types import FloatArray
from infercost.errors import InfercostError
from infercost.perf.efficiency import Efficiency
from infercost.specs.hardware import Hardware
from infercost.specs.parallelism import Parallelism
from infercost.specs.precision import Precision


@dataclass(frozen=True)
class Resources:
    """Per-chip peaks and the efficiency model, each an array over hardware points."""

    linear_flops: FloatArray  # peak FLOP/s of weight matmuls at the chosen compute format
    attention_flops: FloatArray  # peak FLOP/s of the attention core (activation precision)
    memory_bw: FloatArray  # bytes/s
    memory_bytes: FloatArray
    scale_up_bw: FloatArray  # bytes/s per direction; nan when unknown
    scale_up_domain: FloatArray
    scale_out_bw: FloatArray  # bytes/s per direction; nan when unknown
    compute_eff: FloatArray
    compute_half_tokens: FloatArray
    moe_half_tokens: FloatArray
    moe_compute_eff: FloatArray
    memory_eff: FloatArray
    kv_memory_eff: FloatArray
    comm_eff: FloatArray
    collective_latency_s: FloatArray
    step_overhead_s: FloatArray
    request_overhead_s: FloatArray
    layer_overhead_s: FloatArray
    runtime_reserve_bytes: FloatArray
    weight_bytes: float  # bytes per weight element (linear layers)
    embedding_bytes: float
    activation_bytes: float
    kv_bytes: float
    # where a step's KV working set is read from (perf/hierarchy.py): on-chip SRAM first when opted
    # in, then HBM (up to `hbm_kv_bytes`, the memory plan's KV room), then each offload tier in order
    sram_kv_bytes: FloatArray = field(default_factory=lambda: np.asarray(0.0))
    sram_bw: FloatArray = field(default_factory=lambda: np.asarray(np.nan))
    hbm_kv_bytes: FloatArray = field(default_factory=lambda: np.asarray(np.inf))
    offload_tiers: tuple[tuple[FloatArray, FloatArray], ...] = ()  # (capacity bytes, bytes/s)
    in_network_reduction: FloatArray = field(default_factory=lambda: np.asarray(0.0))

    @property
    def kv_tiered(self) -> bool:
        """True when KV is not simply read from HBM (SRAM residency or offload tiers in play)."""
        return bool(np.any(self.sram_kv_bytes > 0)) or bool(self.offload_tiers)


def at_peak(res: Resources) -> Resources:
    """The pure roofline: peak rates, no fixed costs or latencies (for floors and critical batch)."""
    one, zero = np.ones_like(res.compute_eff), np.zeros_like(res.compute_eff)
    return replace(
        res,
        compute_eff=one,
        memory_eff=one,
        kv_memory_eff=one,
        moe_compute_eff=one,
        comm_eff=one,
        compute_half_tokens=zero,
        moe_half_tokens=zero,
        collective_latency_s=zero,
        step_overhead_s=zero,
        request_overhead_s=zero,
        layer_overhead_s=zero,
    )


def _value(v: float | None) -> float:
    return float("nan") if v is None else float(v)


def _required(hw: Hardware, name: str, value: float | None) -> float:
    if value is None:
        raise InfercostError(f"hardware {hw.id}: {name}", None, "the catalog has no sourced value")
    return value


def _sram_for_kv(h: Hardware) -> tuple[float, float]:
    if h.sram_bytes is None or h.sram_bw_bytes_per_s is None:
        missing = "sram_mb" if h.sram_bytes is None else "sram_bw_gbps"
        raise InfercostError(
            f"hardware {h.id}: {missing}",
            None,
            "KV in SRAM needs both SRAM size and bandwidth; give them in a hardware spec file",
        )
    return h.sram_bytes, h.sram_bw_bytes_per_s


def resources_for(
    hardware: Hardware | Sequence[Hardware],
    precision: Precision,
    efficiency: Efficiency | Sequence[Efficiency],
    *,
    sram_kv: bool = False,
) -> Resources:
    """Stack one or many hardware specs (with their efficiency) into broadcastable arrays.

    `sram_kv` is the opt-in assumption that the KV cache (up to the SRAM size) is held in on-chip
    SRAM and read at its bandwidth; the hardware's `kv_offload` tiers are always taken along.
    """
    hws = [hardware] if isinstance(hardware, Hardware) else list(hardware)
    effs = [efficiency] * len(hws) if isinstance(efficiency, Efficiency) else list(efficiency)
    if len(effs) != len(hws):
        raise ValueError("one Efficiency per hardware point is needed")

    def arr(values: list[float]) -> FloatArray:
        out = np.asarray(values, dtype=float)
        return out.reshape(()) if isinstance(hardware, Hardware) else out

    sram = [_sram_for_kv(h) if sram_kv else (0.0, float("nan")) for h in hws]
    tiers = tuple(
        (
            arr([h.kv_offload[i].capacity_gb * 1e9 if i < len(h.kv_offload) else 0.0 for h in hws]),
            arr([h.kv_offload[i].bw_gbps * 1e9 if i < len(h.kv_offload) else 1.0 for h in hws]),
        )
        for i in range(max(len(h.kv_offload) for h in hws))
    )
    latency_us = [
        e.collective_latency_us if h.scale_up.latency_us is None else h.scale_up.latency_us
        for h, e in zip(hws, effs, strict=True)
    ]
    return Resources(
        linear_flops=arr(
            [_required(h, "peak FLOP/s", h.peak_flops(precision.compute_key(h))) for h in hws]
        ),
        attention_flops=arr(
            [
                _required(h, "peak FLOP/s", h.peak_flops(precision.attention_compute_key(h)))
                for h in hws
            ]
        ),
        memory_bw=arr([_required(h, "memory_bw_gbps", h.memory_bw_bytes_per_s) for h in hws]),
        memory_bytes=arr([_required(h, "memory_gb", h.memory_bytes) for h in hws]),
        scale_up_bw=arr([_value(h.scale_up_bytes_per_s) for h in hws]),
        scale_up_domain=arr([float(h.scale_up.domain_size or 1) for h in hws]),
        scale_out_bw=arr([_value(h.scale_out_bytes_per_s) for h in hws]),
        compute_eff=arr([e.compute for e in effs]),
        compute_half_tokens=arr([e.compute_half_tokens for e in effs]),
        moe_half_tokens=arr(
            [
                e.compute_half_tokens if e.moe_half_tokens is None else e.moe_half_tokens
                for e in effs
            ]
        ),
        moe_compute_eff=arr([e.moe_compute for e in effs]),
        memory_eff=arr([e.memory for e in effs]),
        kv_memory_eff=arr([e.kv_memory for e in effs]),
        comm_eff=arr([e.comm for e in effs]),
        collective_latency_s=arr([us * 1e-6 for us in latency_us]),
        step_overhead_s=arr([e.step_overhead_ms * 1e-3 for e in effs]),
        request_overhead_s=arr([e.request_overhead_ms * 1e-3 for e in effs]),
        layer_overhead_s=arr([e.layer_overhead_us * 1e-6 for e in effs]),
        runtime_reserve_bytes=arr([e.runtime_reserve_gb * 1e9 for e in effs]),
        weight_bytes=precision.weights.bytes_per_element,
        embedding_bytes=precision.embedding_bytes_per_element,
        activation_bytes=precision.activations.bytes_per_element,
        kv_bytes=precision.kv.bytes_per_element,
        sram_kv_bytes=arr([size for size, _ in sram]),
        sram_bw=arr([bw for _, bw in sram]),
        hbm_kv_bytes=arr([float("inf")] * len(hws)),
        offload_tiers=tiers,
        in_network_reduction=arr([float(h.scale_up.in_network_reduction) for h in hws]),
    )


@dataclass(frozen=True)
class Layout:
    """tp/pp/dp/ep as float arrays (one value or a grid)."""

    tp: FloatArray
    pp: FloatArray
    dp: FloatArray
    ep: FloatArray

    @classmethod
    def of(cls, p: Parallelism) -> Layout:
        return cls(*(np.asarray(float(v)) for v in (p.tp, p.pp, p.dp, p.ep)))

    @classmethod
    def grid(
        cls,
        tp: Sequence[int] | FloatArray,
        pp: Sequence[int] | FloatArray | int = 1,
        dp: Sequence[int] | FloatArray | int = 1,
        ep: Sequence[int] | FloatArray | int = 1,
    ) -> Layout:
        return cls(*(np.asarray(v, dtype=float) for v in (tp, pp, dp, ep)))

    @property
    def chips(self) -> FloatArray:
        return self.tp * self.pp * self.dp
