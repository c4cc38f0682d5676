"""Fleets over time: autoscaler timelines by hand, purchase-mix optima known by hand, trace binning,
one-line input errors, and the plan never costing more than static peak provisioning."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infercost.cli import app
from infercost.errors import InfercostError
from infercost.plan.capacity import Capacity
from infercost.plan.fleet import (
    FleetOption,
    PriceQuote,
    autoscale,
    binned_trace,
    optimize_mix,
    parse_fleet,
    plan_fleet,
    replicas_needed,
)
from infercost.plan.fleet import TraceLoad as Trace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def option(
    hw: str = "gpu-a",
    *,
    rate: float = 1.0,
    chips: int = 1,
    on_demand: float | None = 3.0,
    reserved: float | None = None,
    spot: float | None = None,
    max_replicas: int | None = None,
) -> FleetOption:
    """A GPU option with a hand-set capacity and prices (no performance model involved)."""
    cap = Capacity(
        model="m",
        hardware=hw,
        chips=chips,
        tp=chips,
        pp=1,
        ep=1,
        weights="bf16",
        kv="bf16",
        engine=None,
        isl=1,
        osl=1,
        tpot_slo_ms=None,
        ttft_slo_ms=None,
        concurrency=1,
        max_concurrency=1,
        requests_per_s=rate,
        output_tps=rate,
        tpot_ms_p99=1.0,
        ttft_ms_p99=1.0,
        limited_by="memory",
        weights_bytes_per_chip=1.0,
        efficiency_version="test",
    )
    prices = {
        term: PriceQuote(term=term, usd_per_chip_hour=p, source="user input", as_of=None)  # type: ignore[arg-type]
        for term, p in (("on-demand", on_demand), ("reserved", reserved), ("spot", spot))
        if p is not None
    }
    return FleetOption(
        hardware=hw,
        chips=chips,
        tp=chips,
        pp=1,
        weights="bf16",
        kv="bf16",
        capacity=cap,
        usable_requests_per_s=rate,
        prices=prices,
        max_replicas=max_replicas,
    )


def mix(options: list[FleetOption], load: list[float], **kwargs):  # type: ignore[no-untyped-def]
    args = {
        "interval_h": 24.0 / len(load),
        "delay": 0,
        "cooldown": 0,
        "min_replicas": 0,
        "periodic": True,
    }
    args.update(kwargs)
    return optimize_mix(options, load, **args)


# --- the autoscaler timeline, by hand ------------------------------------------------------------------


def test_replicas_needed_rounds_up_with_a_floor() -> None:
    assert replicas_needed([0.0, 0.5, 1.0, 2.2, 7.0], 1.0, 1) == [1, 1, 1, 3, 7]
    assert replicas_needed([0.0, 3.0], 1.5, 0) == [0, 2]


def test_reactive_autoscaler_lags_by_the_delay_and_holds_through_the_cooldown() -> None:
    need = [1, 3, 3, 1, 1, 1]
    billed, ready = autoscale(need, delay=1, cooldown=2, min_replicas=1, periodic=False)
    # desired[t] = max(need[t-2 .. t]) (clipped at the start of the trace)
    assert billed == [1, 3, 3, 3, 3, 1]
    # ready[t] = min(desired[t-1 .. t]): the two extra replicas boot during interval 1
    assert ready == [1, 1, 3, 3, 3, 1]


def test_predictive_autoscaler_boots_ahead_and_is_never_short() -> None:
    need = [1, 3, 3, 1, 1, 1]
    billed, ready = autoscale(
        need, delay=1, cooldown=2, min_replicas=1, periodic=False, predictive=True
    )
    assert billed == [3, 3, 3, 3, 3, 1]  # max(need[t-2 .. t+1])
    assert ready == [3, 3, 3, 3, 3, 1]
    assert all(r >= n for r, n in zip(ready, need, strict=True))


def test_minimum_replicas_floor_the_timeline() -> None:
    billed, ready = autoscale([0, 0, 2, 0], delay=0, cooldown=0, min_replicas=1, periodic=False)
    assert billed == [1, 1, 2, 1]
    assert ready == billed


def test_a_daily_curve_wraps_around_midnight() -> None:
    # the peak at the end of the day is still cooling down at the start of the next one
    billed, ready = autoscale([1, 1, 1, 4], delay=1, cooldown=1, periodic=True)
    assert billed == [4, 1, 1, 4]
    assert ready == [4, 1, 1, 1]


@settings(max_examples=40, deadline=None)
@given(
    need=st.lists(st.integers(0, 6), min_size=1, max_size=12),
    delay=st.integers(0, 3),
    cooldown=st.integers(0, 3),
    periodic=st.booleans(),
)
def test_predictive_scaling_always_covers_the_need(
    need: list[int], delay: int, cooldown: int, periodic: bool
) -> None:
    billed, ready = autoscale(
        need, delay=delay, cooldown=cooldown, periodic=periodic, predictive=True
    )
    assert all(r >= n for r, n in zip(ready, need, strict=True))
    assert all(b >= r for b, r in zip(billed, ready, strict=True))


# --- the purchase mix: optima known by hand ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reserved", "want_reserved", "usd_per_day"),
    [
        # two 12 h intervals needing 2 then 1 replicas; on demand $2.99/h. A reserved replica used
        # only in the first interval costs 24 × r against 12 × 2.99 on demand: reserve the second
        # one only when r < 2.99 / 2 = 1.495.
        (1.79, 1, 24 * 1.79 + 12 * 2.99),  # 78.84
        (1.40, 2, 2 * 24 * 1.40),  # 67.20
        (3.50, 0, 3 * 12 * 2.99),  # reserved dearer than on demand: none
    ],
)
def test_reserved_versus_on_demand_breakeven(
    reserved: float, want_reserved: int, usd_per_day: float
) -> None:
    opt = mix([option(on_demand=2.99, reserved=reserved)], [2.0, 1.0])
    assert opt.status == "optimal"
    assert opt.reserved == {"gpu-a": want_reserved}
    assert opt.usd_per_day == pytest.approx(usd_per_day)


def test_spot_is_capped_at_its_share_of_the_load() -> None:
    # 10 req/s all day; spot $1 < on demand $3, at most 30 % of the load on spot
    opt = mix([option(on_demand=3.0, spot=1.0)], [10.0], spot_share=0.3)
    (interval,) = opt.intervals
    assert interval.ready["gpu-a"] == {"on-demand": 7, "spot": 3}
    assert opt.usd_per_day == pytest.approx(24 * (7 * 3.0 + 3 * 1.0))


def test_spot_interruptions_discount_its_capacity() -> None:
    # half of spot capacity lost: 6 spot replicas carry the 3 req/s spot share
    opt = mix([option(on_demand=3.0, spot=1.0)], [10.0], spot_share=0.3, spot_loss=0.5)
    (interval,) = opt.intervals
    assert interval.ready["gpu-a"] == {"on-demand": 7, "spot": 6}
    assert interval.capacity_rps == pytest.approx(7 + 6 * 0.5)
    assert opt.usd_per_day == pytest.approx(24 * (7 * 3.0 + 6 * 1.0))


def test_heterogeneous_mix_picks_the_cheapest_combination() -> None:
    # 4 req/s: A (3 req/s for $5/h) + B (1 req/s for $2/h) = $7 beats 2 A ($10) and 4 B ($8)
    opt = mix(
        [option("gpu-a", rate=3.0, on_demand=5.0), option("gpu-b", rate=1.0, on_demand=2.0)], [4.0]
    )
    (interval,) = opt.intervals
    assert interval.ready == {"gpu-a": {"on-demand": 1}, "gpu-b": {"on-demand": 1}}
    assert opt.usd_per_day == pytest.approx(24 * 7.0)


def test_chips_per_replica_multiply_the_price() -> None:
    # B is half the price per chip but needs 4 chips per replica for the same rate
    opt = mix(
        [
            option("gpu-a", rate=2.0, chips=2, on_demand=2.0),
            option("gpu-b", rate=2.0, chips=4, on_demand=1.5),
        ],
        [2.0],
    )
    assert opt.intervals[0].ready == {"gpu-a": {"on-demand": 1}}
    assert opt.usd_per_day == pytest.approx(24 * 2 * 2.0)


def test_max_replicas_forces_the_second_type() -> None:
    opt = mix(
        [
            option("gpu-a", on_demand=1.0, max_replicas=2),
            option("gpu-b", on_demand=2.0),
        ],
        [3.0],
    )
    assert opt.intervals[0].ready == {"gpu-a": {"on-demand": 2}, "gpu-b": {"on-demand": 1}}


def test_minimum_replicas_hold_at_night() -> None:
    opt = mix([option(on_demand=1.0)], [0.1, 0.1], min_replicas=2)
    assert [i.ready["gpu-a"]["on-demand"] for i in opt.intervals] == [2, 2]


def test_scale_up_delay_and_cooldown_are_billed() -> None:
    load = [1.0, 3.0, 1.0, 1.0]
    # delay 1: the two extra replicas are billed from interval 0; no cool-down
    opt = mix([option(on_demand=1.0)], load, interval_h=1.0, delay=1, periodic=False)
    assert [i.billed["gpu-a"]["on-demand"] for i in opt.intervals] == [3, 3, 1, 1]
    assert [i.ready["gpu-a"]["on-demand"] for i in opt.intervals] == [1, 3, 1, 1]
    assert opt.usd_per_day == pytest.approx(8 * 24 / 4)
    # cool-down 1 interval: they are also kept through interval 2
    opt = mix([option(on_demand=1.0)], load, interval_h=1.0, delay=1, cooldown=1, periodic=False)
    assert [i.billed["gpu-a"]["on-demand"] for i in opt.intervals] == [3, 3, 3, 1]


@settings(max_examples=25, deadline=None)
@given(
    load=st.lists(st.integers(0, 5), min_size=1, max_size=8),
    delay=st.integers(0, 2),
    cooldown=st.integers(0, 2),
    periodic=st.booleans(),
)
def test_one_on_demand_option_costs_what_the_predictive_autoscaler_bills(
    load: list[int], delay: int, cooldown: int, periodic: bool
) -> None:
    if max(load) == 0:
        load = [*load[:-1], 1]
    rates = [float(x) for x in load]
    opt = mix(
        [option(on_demand=1.0)],
        rates,
        interval_h=1.0,
        delay=delay,
        cooldown=cooldown,
        periodic=periodic,
    )
    billed, _ = autoscale(
        replicas_needed(rates, 1.0, 0),
        delay=delay,
        cooldown=cooldown,
        periodic=periodic,
        predictive=True,
    )
    assert sum(i.usd for i in opt.intervals) == pytest.approx(float(sum(billed)))


# --- load from a trace -----------------------------------------------------------------------------------


def test_trace_is_binned_into_interval_rates(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        "0,m,100,10,110,x\n10,m,300,30,330,x\n70,m,200,20,220,x\n130,m,400,40,440,x\n"
        "150,m,500,50,550,x\n"
    )
    rates, isl, osl = binned_trace(Trace(path="t.csv", format="burstgpt"), 60.0, tmp_path)
    assert rates == pytest.approx([2 / 60, 1 / 60, 2 / 60])
    assert (isl, osl) == (300.0, 30.0)
    # stretched 2× in time and 10× in volume
    rates, _, _ = binned_trace(
        Trace(path="t.csv", format="burstgpt", time_scale=2.0, rate_multiplier=10.0),
        60.0,
        tmp_path,
    )
    # arrivals at 0, 20, 140, 260, 300 s → minute bins 0, 0, 2, 4, 5
    assert rates == pytest.approx([10 * c / 60 for c in (2, 0, 1, 0, 1, 1)])


# --- whole plans -------------------------------------------------------------------------------------------


def test_example_plan_never_costs_more_than_static_peak() -> None:
    plan = plan_fleet(EXAMPLES / "fleet-chat-day.yaml")
    assert plan.optimized.status == "optimal"
    assert plan.optimized.usd_per_day <= plan.static_peak_usd_per_day + 1e-6
    # every interval's ready capacity covers its load
    for i in plan.optimized.intervals:
        assert i.capacity_rps >= i.load_rps - 1e-6
    assert plan.savings_usd_per_day == pytest.approx(
        plan.static_peak_usd_per_day - plan.optimized.usd_per_day
    )
    for opt in plan.options:
        for quote in opt.prices.values():
            assert quote.source  # every price says where it comes from


def test_trace_example_plans(tmp_path: Path) -> None:
    plan = plan_fleet(EXAMPLES / "fleet-trace.yaml")
    assert not plan.periodic
    assert plan.optimized.usd_per_day <= plan.static_peak_usd_per_day + 1e-6


# --- input errors ------------------------------------------------------------------------------------------


BASE = {
    "model": "llama-3.1-8b",
    "isl": 512,
    "osl": 128,
    "slo": {"tpot_ms": 50},
    "load": {"interval_minutes": 60, "requests_per_s": [1, 2]},
    "gpus": [{"hardware": "h100-sxm"}],
}


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"gpu": [{"hardware": "h100-sxm"}]}, "gpu", "unknown field; allowed: name, model"),
        ({"slo": {}}, "slo", "give ttft_ms, tpot_ms or both"),
        (
            {"load": {"interval_minutes": 60}},
            "load",
            "give exactly one of requests_per_s",
        ),
        (
            {"purchase": {"spot": {"max_share": 0.2}}},
            "purchase.spot.interruptions_per_hour",
            "required when spot.max_share > 0",
        ),
        ({"isl": None}, "isl", "required with a requests_per_s curve"),
        ({"target_utilization": 1.5}, "target_utilization", "less than or equal to 1"),
        (
            {"autoscaling": {"cooldown": 5}},
            "autoscaling.cooldown",
            "allowed: scale_up_delay_minutes, cooldown_minutes, min_replicas, mode",
        ),
    ],
)
def test_bad_fleet_files_are_one_line_errors(change: dict, field: str, text: str) -> None:  # type: ignore[type-arg]
    data = {**BASE, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(InfercostError) as err:
        parse_fleet(data)
    assert err.value.field == field
    assert text in str(err.value)
    assert "\n" not in str(err.value)


def test_no_gpu_option_meets_the_slo_names_the_closest() -> None:
    spec = parse_fleet({**BASE, "slo": {"tpot_ms": 0.5}})
    with pytest.raises(InfercostError, match=r"no GPU option serves the model.*p99 TPOT"):
        plan_fleet(spec)


def test_cli_fleet_json_and_one_line_error(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["fleet", str(EXAMPLES / "fleet-chat-day.yaml"), "--json", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    data = yaml.safe_load(res.stdout)
    assert data["optimized"]["usd_per_day"] <= data["static_peak_usd_per_day"] + 1e-6
    for name in ("fleet.json", "fleet_intervals.csv", "fleet.html", "fleet.png"):
        assert (out / name).stat().st_size > 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**BASE, "gpus": []}))
    res = runner.invoke(app, ["fleet", str(bad)])
    assert res.exit_code == 2
    assert "gpus" in res.stderr and "Traceback" not in res.output
