"""Step-time model: hand-computed cases and physical invariants."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ideal, make_resources
from infercost import catalog
from infercost.perf.resources import Layout
from infercost.perf.step import step_time
from infercost.specs.parallelism import Parallelism

H100_BW = 3.35e12
H100_BF16 = 989.4e12


def test_batch1_decode_is_at_least_weights_over_bandwidth(llama70b):  # type: ignore[no-untyped-def]
    res = make_resources("llama-3.1-70b", "h100-sxm")
    for tp in (1, 2, 4, 8):
        step = step_time(
            llama70b, res, Layout.of(Parallelism(tp=tp)), decode_seqs=1, decode_context=1
        )
        weights_per_chip = llama70b.total_params * 2 / tp
        assert float(step.total) >= weights_per_chip / H100_BW


def test_theory_table_llama3_70b_fp8_on_8xh100():  # type: ignore[no-untyped-def]
    """reference/theory.md §2: FP8 weights + FP8 KV, 8×H100 at 100 % of peak bandwidth, B=1, 8k
    context: weight time 2.61 ms, KV time 0.05 ms (embeddings there are 8-bit too, here 16-bit)."""
    model = catalog.model("llama-3-70b")
    res = ideal(make_resources("llama-3-70b", "h100-sxm", weights="fp8", kv="fp8"))
    step = step_time(model, res, Layout.of(Parallelism(tp=8)), decode_seqs=1, decode_context=8192)
    weight_ms = float(step.weight_bytes_per_chip) / H100_BW * 1e3
    kv_ms = float(step.kv_bytes_per_chip) / H100_BW * 1e3
    assert weight_ms == pytest.approx(2.61 + 1.05e9 / 8 / H100_BW * 1e3, rel=0.02)
    assert kv_ms == pytest.approx(0.05, abs=0.005)


def test_kv_bytes_read_by_decode_hand_computed(llama8b):  # type: ignore[no-untyped-def]
    res = make_resources("llama-3.1-8b", "h100-sxm")
    step = step_time(llama8b, res, Layout.of(Parallelism()), decode_seqs=16, decode_context=4096)
    assert float(step.kv_bytes_per_chip) == 16 * 4096 * 131072


def test_large_prefill_is_compute_bound_and_matches_flops(llama8b):  # type: ignore[no-untyped-def]
    res = ideal(make_resources("llama-3.1-8b", "h100-sxm"))
    step = step_time(llama8b, res, Layout.of(Parallelism()), prefill_tokens=8192)
    logits = 2 * llama8b.logits_params  # only the chunk's last token needs logits
    linear = (llama8b.linear_flops_per_token() - logits) * 8192 + logits
    attention = (
        32 * 2 * 32 * 256 * 8192 * (8192 + 1) / 2
    )  # layers × 2 × heads × (dk+dv) × causal pairs
    assert float(step.flops_per_chip) == pytest.approx(linear + attention, rel=1e-9)
    assert float(step.total) == pytest.approx(float(step.compute), rel=0.02)


def test_breakdown_sums_to_total():  # type: ignore[no-untyped-def]
    model = catalog.model("mixtral-8x7b")
    res = make_resources("mixtral-8x7b", "h100-sxm")
    step = step_time(
        model,
        res,
        Layout.of(Parallelism(tp=2, ep=2)),
        decode_seqs=np.array([1, 8, 64, 512]),
        decode_context=2048,
        prefill_tokens=np.array([0, 0, 512, 2048]),
    )
    parts = sum(step.breakdown_s().values())
    np.testing.assert_allclose(parts, step.total)
    assert all(np.all(v >= 0) for v in step.breakdown_s().values())


def test_single_chip_has_no_communication(llama8b):  # type: ignore[no-untyped-def]
    res = make_resources("llama-3.1-8b", "h100-sxm")
    step = step_time(llama8b, res, Layout.of(Parallelism()), decode_seqs=32, decode_context=1000)
    assert float(step.comm) == 0.0


def test_pipeline_saves_memory_not_time(llama70b):  # type: ignore[no-untyped-def]
    res = make_resources("llama-3.1-70b", "h100-sxm")
    one = step_time(llama70b, res, Layout.of(Parallelism(tp=4)), decode_seqs=1, decode_context=512)
    two = step_time(
        llama70b, res, Layout.of(Parallelism(tp=4, pp=2)), decode_seqs=1, decode_context=512
    )
    assert float(two.total) >= float(one.total)


def test_sliding_window_step_stops_growing_past_the_window():  # type: ignore[no-untyped-def]
    model = catalog.model("mistral-7b")
    res = make_resources("mistral-7b", "a100-sxm-80gb")
    ctx = np.array([4096, 8192, 32768])
    step = step_time(model, res, Layout.of(Parallelism()), decode_seqs=8, decode_context=ctx)
    assert np.ptp(step.total) == pytest.approx(0.0, abs=1e-12)


def test_moe_reads_only_touched_experts():  # type: ignore[no-untyped-def]
    model = catalog.model("qwen3-30b-a3b")
    res = make_resources("qwen3-30b-a3b", "h100-sxm")
    one = step_time(model, res, Layout.of(Parallelism()), decode_seqs=1, decode_context=1)
    many = step_time(model, res, Layout.of(Parallelism()), decode_seqs=4096, decode_context=1)
    table = model.embedding_params  # the input embedding is gathered row by row, not streamed
    assert float(one.weight_bytes_per_chip) == pytest.approx(
        (model.active_params - table) * 2, rel=1e-3
    )
    assert float(many.weight_bytes_per_chip) == pytest.approx(
        (model.total_params - table) * 2, rel=1e-3
    )


def test_grid_matches_point_by_point(llama70b):  # type: ignore[no-untyped-def]
    res = make_resources("llama-3.1-70b", "h100-sxm")
    batch = np.array([1, 3, 17, 100])[:, None]
    tp = np.array([2, 4, 8])[None, :]
    grid = step_time(llama70b, res, Layout.grid(tp=tp), decode_seqs=batch, decode_context=3000)
    for i, b in enumerate(batch[:, 0]):
        for j, t in enumerate(tp[0]):
            point = step_time(
                llama70b,
                res,
                Layout.of(Parallelism(tp=int(t))),
                decode_seqs=int(b),
                decode_context=3000,
            )
            assert grid.total[i, j] == pytest.approx(float(point.total), rel=1e-12)


MODELS = [
    "llama-3.1-8b",
    "mixtral-8x7b",
    "deepseek-v3",
    "gemma-3-27b",
    "nemotron-h-56b",
    "gpt-oss-120b",
]


@settings(max_examples=60, deadline=None)
@given(
    model_id=st.sampled_from(MODELS),
    batch=st.integers(1, 2048),
    context=st.integers(1, 200_000),
    chunk=st.integers(0, 8192),
    tp=st.sampled_from([1, 2, 4, 8]),
)
def test_monotone_and_bandwidth_invariants(model_id, batch, context, chunk, tp):  # type: ignore[no-untyped-def]
    """More work never takes less time; more bandwidth or FLOP/s never makes a step slower."""
    model = catalog.model(model_id)
    res = make_resources(model_id, "h100-sxm")
    layout = Layout.of(Parallelism(tp=tp))

    def t(r=res, b=batch, c=context, p=chunk):  # type: ignore[no-untyped-def]
        return float(
            step_time(model, r, layout, decode_seqs=b, decode_context=c, prefill_tokens=p).total
        )

    base = t()
    # floating-point rounding only: every op's time grows with its own token count (decode and
    # prefill attention are separate kernels, so more of one never speeds up the other)
    slack = base * 1e-12
    assert t(b=batch + 1) >= base - slack
    assert t(c=context * 2) >= base - slack
    assert t(p=chunk + 64) >= base - slack
    faster_memory = replace(res, memory_bw=res.memory_bw * 2)
    faster_compute = replace(
        res, linear_flops=res.linear_flops * 2, attention_flops=res.attention_flops * 2
    )
    faster_links = replace(res, scale_up_bw=res.scale_up_bw * 2)
    assert t(r=faster_memory) <= base
    assert t(r=faster_compute) <= base
    assert t(r=faster_links) <= base


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 4096), context=st.integers(1, 100_000))
def test_decode_throughput_grows_with_batch(batch, context):  # type: ignore[no-untyped-def]
    model = catalog.model("llama-3.1-70b")
    res = make_resources("llama-3.1-70b", "h200")
    layout = Layout.of(Parallelism(tp=8))
    b = np.array([batch, batch + 1], dtype=float)
    step = step_time(model, res, layout, decode_seqs=b, decode_context=context)
    tps = b / step.total
    assert tps[1] >= tps[0]


def test_critical_batch_equals_ridge_point_for_dense_bf16(llama70b):  # type: ignore[no-untyped-def]
    from infercost.perf.figures import critical_batch

    res = make_resources("llama-3.1-70b", "h100-sxm")
    got = critical_batch(llama70b, res, Layout.of(Parallelism(tp=4)))
    assert got == np.ceil(H100_BF16 / H100_BW)


def test_critical_batch_is_larger_for_sparse_moe():  # type: ignore[no-untyped-def]
    from infercost.perf.figures import critical_batch

    dense = critical_batch(
        catalog.model("llama-3.1-70b"),
        make_resources("llama-3.1-70b", "h100-sxm"),
        Layout.of(Parallelism()),
    )
    moe = critical_batch(
        catalog.model("deepseek-v3"),
        make_resources("deepseek-v3", "h100-sxm", weights="bf16"),
        Layout.of(Parallelism()),
    )
    assert dense is not None and moe is not None
    assert moe > 4 * dense  # 8 of 256 routed experts: weights amortise over far more sequences


def test_grouped_expert_gemm_ramp_is_its_own() -> None:
    """`moe_half_tokens` slows only the routed-expert GEMMs: a dense model's step is unchanged to the
    bit, an MoE prefill is slower with a larger ramp, and unset it follows `compute_half_tokens`."""
    from infercost.perf.efficiency import Efficiency
    from infercost.perf.resources import resources_for

    hw = catalog.hardware("h100-sxm")
    precision = catalog.precision("bf16")
    layout = Layout.of(Parallelism(tp=1))

    def prefill(model_id: str, eff: Efficiency) -> float:
        res = resources_for(hw, precision, eff)
        step = step_time(catalog.model(model_id), res, layout, prefill_tokens=2048)
        return float(step.total)

    unset, steep = (
        Efficiency(compute_half_tokens=16),
        Efficiency(compute_half_tokens=16, moe_half_tokens=512),
    )
    assert float(resources_for(hw, precision, unset).moe_half_tokens) == 16.0
    assert prefill("llama-3.1-8b", steep) == prefill("llama-3.1-8b", unset)
    assert prefill("qwen3-30b-a3b", steep) > prefill("qwen3-30b-a3b", unset)
