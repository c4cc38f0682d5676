"""The interpolated step table agrees with the step-time kernel it tabulates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost import catalog
from infercost.perf.efficiency import shipped_profile
from infercost.perf.resources import Layout, resources_for
from infercost.perf.step_table import StepTable, exact
from infercost.specs.parallelism import Parallelism

CASES = [("llama-3.1-8b", 1), ("llama-3.1-70b", 4), ("gemma-3-27b", 1), ("qwen3-30b-a3b", 1)]


def table_for(model_id: str, tp: int) -> tuple[StepTable, object, object, object]:
    model, hw = catalog.model(model_id), catalog.hardware("h100-sxm")
    res = resources_for(
        hw, catalog.precision(model.native_weights), shipped_profile().resolve(hw.family, "vllm")
    )
    layout = Layout.of(Parallelism(tp=tp))
    table = StepTable(model, res, layout, max_seqs=256, max_step_tokens=8192, max_context=32768)
    return table, model, res, layout


@pytest.mark.parametrize(("model_id", "tp"), CASES)
def test_table_is_within_a_few_percent_of_the_kernel(model_id: str, tp: int) -> None:
    table, model, res, layout = table_for(model_id, tp)
    rng = np.random.default_rng(0)
    n = 2000
    b = rng.integers(1, 257, n).astype(float)
    ctx = np.exp(rng.uniform(np.log(16), np.log(32768), n))
    tokens = np.where(rng.random(n) < 0.5, 0, np.round(np.exp(rng.uniform(0, np.log(8192), n))))
    seqs = np.where(tokens > 0, np.minimum(tokens, np.ceil(rng.random(n) * 4)), 0)
    past = np.where(rng.random(n) < 0.5, 0, np.exp(rng.uniform(np.log(64), np.log(16000), n)))
    want = exact(model, res, layout, np.stack([b, ctx, tokens, seqs, past], 1))  # type: ignore[arg-type]
    got = np.array(
        [table.cost(*row).seconds for row in zip(b, ctx, tokens, seqs, past, strict=True)]
    )
    err = np.abs(got / want - 1)
    assert np.quantile(err, 0.95) < 0.01
    assert err.max() < 0.08  # worst cells straddle a roofline kink
    decode_only = tokens == 0
    assert err[decode_only].max() < 0.03
    also = np.array(
        [table.cost(*row).seconds for row in zip(b, ctx, tokens, seqs, past, strict=True)]
    )
    np.testing.assert_allclose(also, got, rtol=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 255), st.floats(16, 30000), st.floats(1.0, 1.5))
def test_table_is_monotone_in_batch_and_context(b: int, ctx: float, grow: float) -> None:
    table = _llama
    base = table.cost(b, ctx).seconds
    assert table.cost(b + 1, ctx).seconds >= base
    assert table.cost(b, ctx * grow).seconds >= base - 1e-15


def test_grid_points_are_exact() -> None:
    table, model, res, layout = table_for("llama-3.1-8b", 1)
    point = np.array([[8.0, 16.0 * 1.6**3, 0.0, 0.0, 0.0]])
    assert table.cost(*point[0]).seconds == pytest.approx(
        float(exact(model, res, layout, point)[0]), rel=1e-12
    )  # type: ignore[arg-type]


_llama = table_for("llama-3.1-8b", 1)[0]
