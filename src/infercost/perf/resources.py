"""Numeric views of hardware × precision × efficiency, as numpy arrays so grids broadcast.

A `Resources` holds effective rates for one or many hardware points; a `Layout` holds tp/pp/dp/ep for
one or many layouts. Both broadcast against each other and against batch and context arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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


def resources_for(
    hardware: Hardware | Sequence[Hardware],
    precision: Precision,
    efficiency: Efficiency | Sequence[Efficiency],
) -> Resources:
    """Stack one or many hardware specs (with their efficiency) into broadcastable arrays."""
    hws = [hardware] if isinstance(hardware, Hardware) else list(hardware)
    effs = [efficiency] * len(hws) if isinstance(efficiency, Efficiency) else list(efficiency)
    if len(effs) != len(hws):
        raise ValueError("one Efficiency per hardware point is needed")

    def arr(values: list[float]) -> FloatArray:
        out = np.asarray(values, dtype=float)
        return out.reshape(()) if isinstance(hardware, Hardware) else out

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
        moe_compute_eff=arr([e.moe_compute for e in effs]),
        memory_eff=arr([e.memory for e in effs]),
        kv_memory_eff=arr([e.kv_memory for e in effs]),
        comm_eff=arr([e.comm for e in effs]),
        collective_latency_s=arr([e.collective_latency_us * 1e-6 for e in effs]),
        step_overhead_s=arr([e.step_overhead_ms * 1e-3 for e in effs]),
        request_overhead_s=arr([e.request_overhead_ms * 1e-3 for e in effs]),
        layer_overhead_s=arr([e.layer_overhead_us * 1e-6 for e in effs]),
        runtime_reserve_bytes=arr([e.runtime_reserve_gb * 1e9 for e in effs]),
        weight_bytes=precision.weights.bytes_per_element,
        embedding_bytes=precision.embedding_bytes_per_element,
        activation_bytes=precision.activations.bytes_per_element,
        kv_bytes=precision.kv.bytes_per_element,
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
