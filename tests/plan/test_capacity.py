"""Replica capacity at p99 targets: agrees with the continuous-batching model it composes, and obeys
physical invariants (more bandwidth or compute never lowers it, tighter targets never raise it)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost import catalog
from infercost.errors import DoesNotFitError, InfercostError
from infercost.perf.efficiency import shipped_profile
from infercost.perf.resources import Layout, resources_for
from infercost.perf.steady import continuous
from infercost.plan.capacity import (
    SloNotMetError,
    best_capacity,
    fractional_hardware,
    replica_capacity,
)
from infercost.specs.parallelism import Parallelism

H100 = catalog.hardware("h100-sxm")


def rate_or_zero(**kwargs: object) -> float:
    try:
        return replica_capacity(**kwargs).requests_per_s  # type: ignore[arg-type]
    except SloNotMetError:
        return 0.0


def scaled(**factors: float):  # type: ignore[no-untyped-def]
    """H100 with its memory bandwidth and/or peak FLOP/s multiplied."""
    bw = factors.get("bw", 1.0)
    flops = factors.get("flops", 1.0)
    peaks = {k: None if v is None else v * flops for k, v in H100.peak_tflops.items()}
    assert H100.memory_bw_gbps is not None
    return H100.model_copy(
        update={"memory_bw_gbps": H100.memory_bw_gbps * bw, "peak_tflops": peaks}
    )


def test_capacity_is_the_continuous_batching_rate_at_the_chosen_concurrency() -> None:
    cap = replica_capacity(
        "llama-3.1-8b", "h100-sxm", isl=1024, osl=256, tpot_ms=30, ttft_ms=1000, chips=1
    )
    spec = catalog.model("llama-3.1-8b")
    profile = shipped_profile()
    res = resources_for(H100, catalog.precision("bf16"), profile.resolve(H100.family, None))
    layout = Layout.of(Parallelism())
    q = profile.queueing
    b = np.arange(1.0, cap.max_concurrency + 1.0)
    run = continuous(spec, res, layout, concurrency=b, isl=1024, osl=256, budget=8192)
    tpot_p99 = run.tpot_s * q.tpot_p99_over_mean * 1e3
    at = cap.concurrency - 1
    assert cap.requests_per_s == pytest.approx(run.output_tps[at] * q.load_factor / 256)
    assert cap.tpot_ms_p99 == pytest.approx(tpot_p99[at])
    assert cap.tpot_ms_p99 <= 30
    # the chosen point is the best output rate among those meeting the target
    ok = tpot_p99 <= 30
    assert run.output_tps[at] == pytest.approx(run.output_tps[ok].max())
    assert cap.limited_by == "tpot"
    assert tpot_p99[at + 1] > 30


def test_without_targets_the_batch_limit_binds() -> None:
    cap = replica_capacity("llama-3.1-8b", "h100-sxm", isl=512, osl=128, chips=1)
    assert cap.concurrency == cap.max_concurrency
    assert cap.limited_by in ("memory", "engine")


def test_engine_limit_caps_concurrency() -> None:
    cap = replica_capacity("llama-3.1-8b", "h100-sxm", isl=512, osl=128, chips=1, max_num_seqs=16)
    assert cap.max_concurrency == 16
    assert cap.limited_by == "engine"


@settings(max_examples=25, deadline=None)
@given(
    bw=st.floats(1.0, 3.0),
    tpot=st.sampled_from([15.0, 25.0, 40.0, 80.0]),
    isl=st.sampled_from([128, 1024, 4096]),
    osl=st.sampled_from([64, 256, 1024]),
)
def test_more_bandwidth_never_lowers_capacity(bw: float, tpot: float, isl: int, osl: int) -> None:
    common = {"model": "llama-3.1-8b", "isl": isl, "osl": osl, "tpot_ms": tpot, "chips": 1}
    base = rate_or_zero(hardware=H100, **common)
    faster = rate_or_zero(hardware=scaled(bw=bw), **common)
    assert faster >= base * (1 - 1e-9)


@settings(max_examples=20, deadline=None)
@given(flops=st.floats(1.0, 4.0), ttft=st.sampled_from([100.0, 300.0, 2000.0]))
def test_more_compute_never_lowers_capacity(flops: float, ttft: float) -> None:
    common = {"model": "llama-3.1-8b", "isl": 2048, "osl": 256, "ttft_ms": ttft, "chips": 1}
    assert rate_or_zero(hardware=scaled(flops=flops), **common) >= rate_or_zero(
        hardware=H100, **common
    ) * (1 - 1e-9)


@settings(max_examples=25, deadline=None)
@given(
    loose=st.floats(10.0, 200.0),
    tighten=st.floats(0.2, 1.0),
    osl=st.sampled_from([64, 256, 1024]),
)
def test_tighter_tpot_never_raises_capacity(loose: float, tighten: float, osl: int) -> None:
    common = {"model": "llama-3.1-8b", "hardware": H100, "isl": 1024, "osl": osl, "chips": 1}
    assert rate_or_zero(tpot_ms=loose * tighten, **common) <= rate_or_zero(
        tpot_ms=loose, **common
    ) * (1 + 1e-9)


@settings(max_examples=20, deadline=None)
@given(loose=st.floats(50.0, 5000.0), tighten=st.floats(0.1, 1.0))
def test_tighter_ttft_never_raises_capacity(loose: float, tighten: float) -> None:
    common = {"model": "llama-3.1-8b", "hardware": H100, "isl": 4096, "osl": 256, "chips": 1}
    assert rate_or_zero(ttft_ms=loose * tighten, **common) <= rate_or_zero(
        ttft_ms=loose, **common
    ) * (1 + 1e-9)


def test_unreachable_tpot_names_the_target_and_the_best_value() -> None:
    with pytest.raises(SloNotMetError) as err:
        replica_capacity("llama-3.1-70b", "h100-sxm", isl=1024, osl=256, tpot_ms=1.0, chips=4)
    assert err.value.field == "slo.tpot_ms"
    assert "reaches a p99 TPOT of" in str(err.value)


def test_model_that_does_not_fit_is_an_error_with_the_numbers() -> None:
    with pytest.raises(DoesNotFitError, match="GiB"):
        replica_capacity("llama-3.1-70b", "h100-sxm", isl=1024, osl=256, chips=1)


def test_bad_lengths_and_targets_are_user_errors() -> None:
    with pytest.raises(InfercostError, match="isl"):
        replica_capacity("llama-3.1-8b", "h100-sxm", isl=0, osl=10)
    with pytest.raises(InfercostError, match="tpot_ms"):
        replica_capacity("llama-3.1-8b", "h100-sxm", isl=10, osl=10, tpot_ms=-1)


def test_fewest_chips_default_holds_the_model() -> None:
    cap = replica_capacity("llama-3.1-70b", "h100-sxm", isl=1024, osl=256, tpot_ms=60)
    assert cap.tp == cap.chips  # the default split is tensor parallel over all chips
    with pytest.raises(DoesNotFitError):  # half as many chips do not hold it
        replica_capacity("llama-3.1-70b", "h100-sxm", isl=1024, osl=256, chips=cap.chips // 2)


def test_best_capacity_maximizes_requests_per_chip() -> None:
    best = best_capacity("llama-3.1-70b", "h100-sxm", isl=1024, osl=256, tpot_ms=50, ttft_ms=1000)
    for chips in (2, 4, 8):
        try:
            other = replica_capacity(
                "llama-3.1-70b",
                "h100-sxm",
                isl=1024,
                osl=256,
                tpot_ms=50,
                ttft_ms=1000,
                chips=chips,
            )
        except (DoesNotFitError, SloNotMetError):
            continue
        assert best.requests_per_s_per_chip >= other.requests_per_s_per_chip


def test_a_share_of_a_chip_sustains_no_more_than_the_chip() -> None:
    assert H100.memory_gb is not None
    half = fractional_hardware(
        H100, label="half", compute=0.5, bandwidth=0.5, memory_gb=H100.memory_gb / 2
    )
    assert half.memory_bw_gbps == pytest.approx(H100.memory_bw_gbps / 2)  # type: ignore[operator]
    assert half.peak_tflops["bf16"] == pytest.approx(H100.peak_tflops["bf16"] / 2)  # type: ignore[operator]
    common = {"model": "llama-3.1-8b", "isl": 1024, "osl": 256, "tpot_ms": 50, "chips": 1}
    assert rate_or_zero(hardware=half, **common) < rate_or_zero(hardware=H100, **common)
    with pytest.raises(InfercostError, match="compute"):
        fractional_hardware(H100, label="x", compute=1.5, bandwidth=1.0, memory_gb=1.0)
