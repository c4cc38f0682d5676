"""Memory hierarchy and collectives: KV read from SRAM (opt-in) or offload tiers, in-network
reduction, expert parallelism across the scale-up boundary — each against a hand computation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import ideal, make_resources
from infercost import catalog
from infercost.errors import InfercostError
from infercost.perf.comm import allreduce_time
from infercost.perf.efficiency import Efficiency
from infercost.perf.resources import Layout, resources_for
from infercost.perf.step import step_time
from infercost.specs.hardware import KVTier
from infercost.specs.parallelism import Parallelism

SRAM_BW = 20e12  # bytes/s: an assumption for the tests, not a catalog figure


def _h100_with_sram(size_mb: float) -> object:
    return catalog.hardware("h100-sxm").model_copy(
        update={"sram_mb": size_mb, "sram_bw_gbps": SRAM_BW / 1e9}
    )


def _res(hw: object, *, sram_kv: bool) -> object:
    spec = catalog.model("llama-3.1-8b")
    return ideal(
        resources_for(
            hw, catalog.precision(spec.native_weights, None), Efficiency(), sram_kv=sram_kv
        )  # type: ignore[arg-type]
    )


def test_kv_in_sram_lowers_decode_step_by_the_computed_amount(llama8b):  # type: ignore[no-untyped-def]
    batch, context = 4, 512
    kv_bytes = batch * context * 131072  # Llama-3.1-8B bf16: 131,072 bytes of KV per token
    hw = _h100_with_sram(size_mb=kv_bytes / 1e6 * 2)  # the whole working set fits
    layout = Layout.of(Parallelism())
    base = step_time(
        llama8b, _res(hw, sram_kv=False), layout, decode_seqs=batch, decode_context=context
    )
    fast = step_time(
        llama8b, _res(hw, sram_kv=True), layout, decode_seqs=batch, decode_context=context
    )
    hbm_bw = hw.memory_bw_bytes_per_s  # type: ignore[attr-defined]
    saved = kv_bytes / hbm_bw - kv_bytes / SRAM_BW
    assert float(base.kv) == pytest.approx(kv_bytes / hbm_bw, rel=1e-9)
    assert float(base.total - fast.total) == pytest.approx(saved, rel=1e-9)
    assert float(fast.weights) == pytest.approx(float(base.weights), rel=1e-12)


def test_kv_partly_in_sram_splits_the_reads(llama8b):  # type: ignore[no-untyped-def]
    batch, context = 4, 512
    kv_bytes = batch * context * 131072
    hw = _h100_with_sram(size_mb=kv_bytes / 1e6 / 4)  # a quarter of it fits
    layout = Layout.of(Parallelism())
    step = step_time(
        llama8b, _res(hw, sram_kv=True), layout, decode_seqs=batch, decode_context=context
    )
    hbm_bw = hw.memory_bw_bytes_per_s  # type: ignore[attr-defined]
    expected = kv_bytes / 4 / SRAM_BW + kv_bytes * 3 / 4 / hbm_bw
    assert float(step.kv) == pytest.approx(expected, rel=1e-9)


def test_sram_kv_needs_sourced_size_and_bandwidth() -> None:
    hw = catalog.hardware("h100-sxm")  # SRAM size known, bandwidth not in the catalog
    with pytest.raises(InfercostError, match="sram_bw_gbps"):
        _res(hw, sram_kv=True)


def test_kv_beyond_hbm_room_is_read_from_the_offload_tier(llama8b):  # type: ignore[no-untyped-def]
    batch, context = 8, 4096
    kv_bytes = batch * context * 131072
    host = KVTier(name="host-dram", capacity_gb=1000, bw_gbps=50)
    hw = catalog.hardware("h100-sxm").model_copy(update={"kv_offload": (host,)})
    res = replace(_res(hw, sram_kv=False), hbm_kv_bytes=np.asarray(kv_bytes / 2))  # type: ignore[type-var]
    step = step_time(
        llama8b, res, Layout.of(Parallelism()), decode_seqs=batch, decode_context=context
    )
    expected = kv_bytes / 2 / hw.memory_bw_bytes_per_s + kv_bytes / 2 / 50e9
    assert float(step.kv) == pytest.approx(expected, rel=1e-9)
    # more than every tier holds cannot be served: infinite, never a silently finite time
    tiny = replace(res, offload_tiers=((np.asarray(1e6), np.asarray(50e9)),))
    assert np.isinf(
        float(
            step_time(
                llama8b, tiny, Layout.of(Parallelism()), decode_seqs=batch, decode_context=context
            ).total
        )
    )


def test_in_network_reduction_moves_the_message_once() -> None:
    res = ideal(make_resources("llama-3.1-70b", "h100-sxm"))
    message = 1e6
    ring = float(allreduce_time(res, np.asarray(8.0), np.asarray(message)))
    reduced_res = replace(res, in_network_reduction=np.asarray(1.0))
    reduced = float(allreduce_time(reduced_res, np.asarray(8.0), np.asarray(message)))
    assert ring == pytest.approx(2 * 7 / 8 * message / 450e9, rel=1e-9)
    assert reduced == pytest.approx(message / 450e9, rel=1e-9)
    # beyond the domain the scale-out hop does its own reduction: no help from the switch
    across = float(allreduce_time(reduced_res, np.asarray(16.0), np.asarray(message)))
    assert across == pytest.approx(2 * 15 / 16 * message / 50e9, rel=1e-9)


def test_catalog_collective_latency_overrides_the_efficiency_default() -> None:
    hw = catalog.hardware("h100-sxm")
    spec = catalog.model("llama-3.1-8b")
    precision = catalog.precision(spec.native_weights, None)
    fast = hw.model_copy(update={"scale_up": hw.scale_up.model_copy(update={"latency_us": 1.0})})
    assert float(resources_for(hw, precision, Efficiency()).collective_latency_s) == pytest.approx(
        5e-6
    )
    assert float(
        resources_for(fast, precision, Efficiency()).collective_latency_s
    ) == pytest.approx(1e-6)


def test_expert_parallel_across_the_scale_out_boundary_costs_more() -> None:
    model = catalog.model("deepseek-v3")
    hw = catalog.hardware("h100-sxm")  # 8-GPU NVLink domain, 50 GB/s scale-out
    wide = hw.model_copy(update={"scale_up": hw.scale_up.model_copy(update={"domain_size": 72})})
    precision = catalog.precision(model.native_weights, None)
    layout = Layout.of(Parallelism(tp=1, dp=16, ep=16))
    comm = {}
    for name, chip in (("8-gpu domain", hw), ("72-gpu domain", wide)):
        res = ideal(resources_for(chip, precision, Efficiency()))
        comm[name] = float(step_time(model, res, layout, decode_seqs=256, decode_context=2048).comm)
    assert comm["8-gpu domain"] > comm["72-gpu domain"] > 0
    # the same bytes over 450 vs 50 GB/s links: the ratio of the link speeds
    assert comm["8-gpu domain"] / comm["72-gpu domain"] == pytest.approx(450 / 50, rel=1e-6)
