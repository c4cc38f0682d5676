"""Memory plan: hand-computed capacity, invariants over layouts, clear errors when it does not fit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_resources
from infercost import catalog, estimate
from infercost.errors import DoesNotFitError
from infercost.perf.memory import memory_plan, weights_bytes_per_chip
from infercost.perf.resources import Layout
from infercost.specs.parallelism import Parallelism


def test_llama70b_bf16_tp4_weights_per_chip(llama70b):  # type: ignore[no-untyped-def]
    # 80 × (attention 150,994,944 + MLP 704,643,072 + norms 16,384) + 2 × 128256 × 8192 + 8192
    params = (
        80 * (8192 * 10240 + 8192 * 8192 + 3 * 8192 * 28672 + 2 * 8192) + 2 * 128256 * 8192 + 8192
    )
    res = make_resources("llama-3.1-70b", "h100-sxm")
    got = weights_bytes_per_chip(llama70b, res, Layout.of(Parallelism(tp=4)))
    assert float(got) == params * 2 / 4 == 35_276_853_248


def test_llama8b_h100_kv_capacity_hand_computed(llama8b):  # type: ignore[no-untyped-def]
    res = make_resources("llama-3.1-8b", "h100-sxm")
    plan = memory_plan(llama8b, res, Layout.of(Parallelism()), context=4096)
    usable = 80e9 * 0.9
    reserve = 1e9 + 8192 * 8 * 4096 * 2  # runtime + activation workspace of an 8192-token step
    free = usable - llama8b.total_params * 2 - reserve
    assert float(plan.kv_free_bytes) == pytest.approx(free)
    assert float(plan.kv_bytes_per_token) == 131072
    assert float(plan.kv_capacity_tokens) == pytest.approx(free / 131072)
    assert float(plan.max_concurrent_sequences) == np.floor(free / (4096 * 131072))


def test_gqa_kv_splits_until_heads_run_out(llama8b):  # type: ignore[no-untyped-def]
    res = make_resources("llama-3.1-8b", "h100-sxm")
    per_token = [
        float(memory_plan(llama8b, res, Layout.of(Parallelism(tp=t)), context=1).kv_bytes_per_token)
        for t in (1, 2, 4, 8, 16, 32)
    ]
    assert per_token[:4] == [131072, 65536, 32768, 16384]
    assert per_token[4:] == [16384, 16384]  # 8 KV heads: ranks beyond 8 hold replicas


def test_mla_latent_is_replicated_across_tp():  # type: ignore[no-untyped-def]
    model = catalog.model("deepseek-v3")
    res = make_resources("deepseek-v3", "h200")
    plan = memory_plan(model, res, Layout.of(Parallelism(tp=8)), context=1)
    assert float(plan.kv_bytes_per_token) == 61 * 576 * 2


MODELS = ["llama-3.1-70b", "mixtral-8x22b", "deepseek-v3", "qwen3-235b-a22b", "gemma-2-27b"]


@settings(max_examples=50, deadline=None)
@given(
    model_id=st.sampled_from(MODELS),
    tp=st.sampled_from([1, 2, 4, 8]),
    pp=st.integers(1, 8),
    dp=st.integers(1, 4),
    grow=st.sampled_from(["tp", "pp", "dp"]),
)
def test_more_chips_never_raise_weights_per_chip(model_id, tp, pp, dp, grow):  # type: ignore[no-untyped-def]
    model = catalog.model(model_id)
    res = make_resources(model_id, "h200")
    base = Parallelism(tp=tp, pp=pp, dp=dp)
    bigger = base.model_copy(update={grow: getattr(base, grow) * 2})
    before = weights_bytes_per_chip(model, res, Layout.of(base))
    after = weights_bytes_per_chip(model, res, Layout.of(bigger))
    assert float(after) <= float(before)


@settings(max_examples=30, deadline=None)
@given(tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2, 4]))
def test_weights_are_conserved_across_the_replica(tp, pp):  # type: ignore[no-untyped-def]
    """Dense model, no data parallelism: chips × weights per chip = all weights."""
    model = catalog.model("llama-3.1-70b")
    res = make_resources("llama-3.1-70b", "h100-sxm")
    per_chip = float(weights_bytes_per_chip(model, res, Layout.of(Parallelism(tp=tp, pp=pp))))
    assert per_chip * tp * pp == pytest.approx(model.total_params * 2)


def test_model_that_does_not_fit_names_the_numbers():  # type: ignore[no-untyped-def]
    with pytest.raises(DoesNotFitError) as err:
        estimate("llama-3.1-405b", "h100-sxm")
    message = str(err.value)
    assert "GiB" in message and "h100-sxm" in message and "\n" not in message


def test_batch_beyond_kv_capacity_is_refused_with_the_limit():  # type: ignore[no-untyped-def]
    with pytest.raises(DoesNotFitError) as err:
        estimate("llama-3.1-8b", "h100-sxm", batch=1000, isl=8000, osl=192)
    assert "at most 50 fit" in str(err.value)
