"""Chip-hour prices and TCO: token costs and owned $/chip-hour checked against hand arithmetic,
utilization waste, catalog price lookups, and one-line errors for bad inputs."""

from __future__ import annotations

import pytest

from infercost import catalog
from infercost.econ.tco import (
    HOURS_PER_YEAR,
    OwnedCost,
    chip_hour_prices,
    deployment_costs,
    owned_chip_hour,
    price_by_term,
    token_costs,
    utilization_cost,
)
from infercost.errors import InfercostError
from infercost.estimation import estimate
from infercost.perf.efficiency import shipped_profile
from infercost.perf.figures import figures
from infercost.perf.resources import resources_for
from infercost.specs.parallelism import Parallelism


def test_token_costs_by_hand() -> None:
    # 8 chips at $2.99: $23.92 per hour. Decode: 64 tokens per 20 ms step = 3,200 tokens/s.
    costs = token_costs(
        2.99, 8, prefill_s=0.5, prompt_tokens=1024, decode_step_s=0.020, batch=64, isl=1024, osl=256
    )
    usd_per_hour = 2.99 * 8
    assert costs.usd_per_hour == pytest.approx(23.92)
    # $/1M tokens = $/hour ÷ (3600 × tokens/s) × 1e6
    out = usd_per_hour / (3600 * (64 / 0.020)) * 1e6
    inp = usd_per_hour / (3600 * (1024 / 0.5)) * 1e6
    assert costs.usd_per_mtok_output == pytest.approx(out)
    assert costs.usd_per_mtok_output == pytest.approx(2.076388888)
    assert costs.usd_per_mtok_input == pytest.approx(inp)
    assert costs.usd_per_request == pytest.approx((inp * 1024 + out * 256) / 1e6)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("usd_per_chip_hour", {"usd_per_chip_hour": -1.0}),
        ("chips", {"chips": 0}),
        ("batch", {"batch": 0}),
        ("decode_step_s", {"decode_step_s": 0.0}),
        ("prefill_s", {"prefill_s": float("nan")}),
    ],
)
def test_token_costs_refuse_bad_inputs(field: str, kwargs: dict[str, float]) -> None:
    args: dict[str, float] = {
        "usd_per_chip_hour": 2.0,
        "chips": 1,
        "prefill_s": 0.1,
        "prompt_tokens": 100,
        "decode_step_s": 0.01,
        "batch": 1,
        "isl": 100,
        "osl": 10,
    }
    args.update(kwargs)
    price, chips = args.pop("usd_per_chip_hour"), args.pop("chips")
    with pytest.raises(InfercostError, match=field) as err:
        token_costs(price, int(chips), **args)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


def test_deployment_costs_agree_with_estimate() -> None:
    est = estimate("llama-3.1-8b", "h100-sxm", batch=16, isl=512, osl=128, price_per_hour=2.5)
    spec, hw = catalog.model("llama-3.1-8b"), catalog.hardware("h100-sxm")
    res = resources_for(hw, catalog.precision("bf16"), shipped_profile().resolve(hw.family))
    fig = figures(spec, res, Parallelism(tp=1), batch=16, isl=512, osl=128)
    costs = deployment_costs(fig, 2.5, chips=1, batch=16, isl=512, osl=128)
    assert costs.usd_per_mtok_output == pytest.approx(est.usd_per_mtok_output)
    assert costs.usd_per_mtok_input == pytest.approx(est.usd_per_mtok_input)
    assert costs.usd_per_request == pytest.approx(est.usd_per_request)
    assert costs.usd_per_hour == pytest.approx(2.5)


def test_owned_chip_hour_by_hand() -> None:
    cost = OwnedCost(
        capex_usd_per_chip=30_000,
        amortization_years=4,
        usd_per_kwh=0.10,
        utilization=0.6,
        pue=1.3,
        hosting_usd_per_chip_year=1_000,
    )
    tco = owned_chip_hour("h100-sxm", cost)
    assert tco.tdp_w == 700  # catalog h100-sxm tdp_w
    assert "catalog" in tco.tdp_source and "TDP" in tco.power_basis
    capex = 30_000 / (4 * 8760)  # 0.856 $/h
    power = 0.700 * 0.6 * 1.3 * 0.10  # kW × utilization × PUE × $/kWh = 0.0546 $/h
    hosting = 1_000 / 8760  # 0.114 $/h
    assert HOURS_PER_YEAR == 8760
    assert tco.capex_usd_per_hour == pytest.approx(capex)
    assert tco.power_usd_per_hour == pytest.approx(power)
    assert tco.hosting_usd_per_hour == pytest.approx(hosting)
    assert tco.usd_per_chip_hour == pytest.approx(capex + power + hosting)
    assert tco.usd_per_chip_hour == pytest.approx(1.0249, abs=1e-4)


def test_owned_tdp_override_is_user_input() -> None:
    cost = OwnedCost(capex_usd_per_chip=10_000, amortization_years=5, usd_per_kwh=0.2, tdp_w=1000)
    tco = owned_chip_hour("h100-sxm", cost)
    assert tco.tdp_source == "user input"
    assert tco.power_usd_per_hour == pytest.approx(1.0 * 1.0 * 1.0 * 0.2)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("capex_usd_per_chip", {"capex_usd_per_chip": -5}),
        ("amortization_years", {"amortization_years": 0}),
        ("utilization", {"utilization": 1.5}),
        ("pue", {"pue": 0.8}),
        ("usd_per_kwh", {"usd_per_kwh": "cheap"}),
    ],
)
def test_owned_cost_refuses_bad_inputs(field: str, kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "capex_usd_per_chip": 25_000,
        "amortization_years": 4,
        "usd_per_kwh": 0.1,
    }
    args.update(kwargs)
    with pytest.raises(InfercostError, match=field) as err:
        OwnedCost(**args)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


def test_capex_is_never_guessed() -> None:
    with pytest.raises(InfercostError, match="capex_usd_per_chip"):
        OwnedCost(amortization_years=4, usd_per_kwh=0.1)  # type: ignore[call-arg]


def test_utilization_cost_waste() -> None:
    # seed 001: 15-30 % utilization means 70-85 % of spend is waste
    for u, waste in ((0.15, 0.85), (0.30, 0.70)):
        r = utilization_cost(2.0, u)
        assert r.wasted_share == pytest.approx(waste)
        assert r.usd_per_mtok == pytest.approx(2.0 / u)
    assert utilization_cost(2.0, 1.0).usd_per_mtok == pytest.approx(2.0)
    for bad in (0.0, -0.1, 1.5, 30.0):
        with pytest.raises(InfercostError, match="utilization"):
            utilization_cost(2.0, bad)
    with pytest.raises(InfercostError, match="usd_per_mtok_at_full_use"):
        utilization_cost(-1.0, 0.5)


def test_catalog_prices_by_term() -> None:
    rows = chip_hour_prices("h100-sxm")
    assert rows and all(r.hardware == "h100-sxm" for r in rows)
    prices = [r.usd_per_chip_hour for r in rows]
    assert prices == sorted(prices)
    assert all(r.source for r in rows)
    spot = chip_hour_prices("h100", term="spot")  # alias resolves
    assert spot and all(r.term == "spot" for r in spot)
    table = price_by_term("h100-sxm")
    assert "on-demand" in table and table["on-demand"]["lambda"] == pytest.approx(2.99)
    with pytest.raises(InfercostError, match="term") as err:
        chip_hour_prices("h100-sxm", term="forever")
    assert "on-demand" in str(err.value)
    with pytest.raises(InfercostError, match="hardware"):
        chip_hour_prices("h999")
