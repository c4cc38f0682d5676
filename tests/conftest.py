"""Shared fixtures: catalog specs and resources built the way `estimate` builds them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from infercost import catalog
from infercost.estimation import precision_for
from infercost.perf.efficiency import Efficiency
from infercost.perf.resources import Resources, resources_for


def make_resources(
    model_id: str, hardware_id: str, weights: str | None = None, kv: str | None = None
) -> Resources:
    spec = catalog.model(model_id)
    return resources_for(
        catalog.hardware(hardware_id), precision_for(spec, weights, kv), Efficiency()
    )


def ideal(res: Resources) -> Resources:
    """Peak rates, no fixed costs: the pure roofline."""
    one = np.ones_like(res.compute_eff)
    zero = np.zeros_like(res.compute_eff)
    return replace(
        res,
        compute_eff=one,
        memory_eff=one,
        kv_memory_eff=one,
        comm_eff=one,
        compute_half_tokens=zero,
        moe_compute_eff=one,
        collective_latency_s=zero,
        step_overhead_s=zero,
        layer_overhead_s=zero,
    )


@pytest.fixture(scope="session")
def llama8b():  # type: ignore[no-untyped-def]
    return catalog.model("llama-3.1-8b")


@pytest.fixture(scope="session")
def llama70b():  # type: ignore[no-untyped-def]
    return catalog.model("llama-3.1-70b")
