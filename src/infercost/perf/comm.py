"""Collective communication time on the real topology: scale-up domain first, scale-out beyond it."""

from __future__ import annotations

import numpy as np

from infercost._types import FloatArray
from infercost.perf.resources import Resources


def link_bandwidth(res: Resources, group_chips: FloatArray) -> FloatArray:
    """Effective per-chip bandwidth for a group: scale-up inside one domain, scale-out across domains.

    A group that spills past one scale-up domain is bounded by its slowest (scale-out) hop; when the
    catalog has no scale-out bandwidth, the scale-up link is used (e.g. PCIe-only cards in one host).
    """
    inside = group_chips <= res.scale_up_domain
    up = np.where(np.isnan(res.scale_up_bw), res.scale_out_bw, res.scale_up_bw)
    # with no sourced scale-out figure (PCIe cards in one host), the known link is the best bound
    out = np.where(np.isnan(res.scale_out_bw), up, res.scale_out_bw)
    bw: FloatArray = np.where(inside, up, out) * res.comm_eff
    return bw


def allreduce_time(res: Resources, chips: FloatArray, message_bytes: FloatArray) -> FloatArray:
    """All-reduce: 2(n-1)/n of the message over each chip's link (bandwidth-optimal, as ring
    algorithms achieve) plus a latency per tree level, log2(n); 0 when n = 1.

    With reductions done in the switch or by a collectives engine (`in_network_reduction`) and the
    group inside one scale-up domain, each chip sends its message once and receives the sum once.
    """
    bw = link_bandwidth(res, chips)
    with np.errstate(invalid="ignore", divide="ignore"):
        levels = np.ceil(np.log2(np.maximum(chips, 1.0)))
        reduced = (res.in_network_reduction > 0) & (chips <= res.scale_up_domain)
        traffic = np.where(reduced, 1.0, 2.0 * (chips - 1.0) / chips)
        t = traffic * message_bytes / bw + levels * res.collective_latency_s
    return np.where(chips > 1, t, 0.0)


def alltoall_time(res: Resources, chips: FloatArray, bytes_out_per_chip: FloatArray) -> FloatArray:
    """MoE dispatch or combine: the bytes a chip sends to the others, plus one latency round."""
    bw = link_bandwidth(res, chips)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = bytes_out_per_chip / bw + res.collective_latency_s
    return np.where(chips > 1, t, 0.0)


def handoff_time(res: Resources, chips: FloatArray, message_bytes: FloatArray) -> FloatArray:
    """Pipeline stage hand-off of activations (point to point)."""
    bw = link_bandwidth(res, chips)
    with np.errstate(invalid="ignore", divide="ignore"):
        return message_bytes / bw + res.collective_latency_s
