"""Self-host vs API break-even: a step function in replicas against a linear API bill."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from infercost import estimate
from infercost.commands.price_extra import register
from infercost.econ.breakeven import RequestClass, WorkloadMix, break_even, crossing
from infercost.econ.price_sheets import PriceSheet
from infercost.errors import InfercostError

MODEL, HW = "llama-3.1-8b", "h100-sxm"
FLAT = PriceSheet(
    id="test/flat",
    provider="test",
    model="flat",
    input_usd_per_mtok=1.0,
    output_usd_per_mtok=1.0,
    cached_input_read_usd_per_mtok=0.1,
    source="user input",
    as_of="2026-01-01",
)


def test_crossing_by_hand() -> None:
    # capacity 100/day, replica $60/day, API $1/token: r = 0.6, K = ⌈2.5⌉ = 3
    # (0, 100]: cheaper above 60; (100, 200]: 2 replicas, cheaper above 120; (200, 300]: always
    assert crossing(100.0, 60.0, 1.0) == (60.0, 120.0, 2)
    assert crossing(100.0, 100.0, 1.0) == (None, None, None)  # never cheaper
    assert crossing(100.0, 40.0, 1.0) == (40.0, 40.0, 1)  # r = 0.4: K = 2


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return break_even(
        FLAT, MODEL, HW, mix=WorkloadMix.single(2000, 400), chips=1, utilization=0.5,
        price_per_hour=2.0,
    )  # fmt: skip


def test_break_even_by_hand(result) -> None:  # type: ignore[no-untyped-def]
    b = result.classes[0].batch
    est = estimate(MODEL, HW, chips=1, batch=b, isl=2000, osl=400, price_per_hour=2.0)
    seconds = est.ttft_ms / 1e3 + 400 * est.tpot_ms / 1e3 / b
    capacity = 86400 / seconds * 2400 * 0.5
    day = 2.0 * 1 * 24
    a = 1e-6  # $1/Mtok for every token
    assert result.api_usd_per_mtok == pytest.approx(1.0)
    assert result.replica_usd_per_day == pytest.approx(day)
    assert result.replica_capacity_tokens_per_day == pytest.approx(capacity)
    r = day / (a * capacity)
    k = math.ceil(1 / (1 - r))
    assert result.first_cheaper_tokens_per_day == pytest.approx(day / a)
    assert result.stays_cheaper_above_tokens_per_day == pytest.approx((k - 1) * day / a)


def test_self_host_cheaper_above_and_dearer_below(result) -> None:  # type: ignore[no-untyped-def]
    v = result.stays_cheaper_above_tokens_per_day
    cap, day = result.replica_capacity_tokens_per_day, result.replica_usd_per_day
    a = result.api_usd_per_mtok / 1e6

    def self_host(volume: float) -> float:
        return math.ceil(volume / cap) * day

    assert self_host(v * 0.99) > v * 0.99 * a
    for f in (1.001, 1.5, 3.0, 10.0, 77.7):
        assert self_host(v * f) < v * f * a
    for p in result.curve:
        assert (p.cheaper == "self-host") == (p.self_host_usd_per_day < p.api_usd_per_day)
        if p.tokens_per_day > v:
            assert p.cheaper == "self-host"
    assert (
        len(result.curve) == 41
        and result.curve[0].tokens_per_day < v < result.curve[-1].tokens_per_day
    )


def test_cached_tokens_cut_api_cost_and_self_host_work(result) -> None:  # type: ignore[no-untyped-def]
    cached = break_even(
        FLAT, MODEL, HW, mix=WorkloadMix.single(2000, 400, 1500), chips=1, utilization=0.5,
        price_per_hour=2.0,
    )  # fmt: skip
    assert cached.classes[0].api_usd_per_request == pytest.approx((500 + 1500 * 0.1 + 400) / 1e6)
    assert cached.classes[0].prefill_s == pytest.approx(result.classes[0].prefill_s * 0.25)
    assert cached.replica_capacity_tokens_per_day > result.replica_capacity_tokens_per_day


def test_two_classes_with_shares() -> None:
    mix = WorkloadMix(
        classes=(
            RequestClass(input_tokens=2000, output_tokens=400, share=3),
            RequestClass(input_tokens=500, output_tokens=100, share=1),
        )
    )
    out = break_even(FLAT, MODEL, HW, mix=mix, chips=1, price_per_hour=2.0)
    assert [c.share for c in out.classes] == [0.75, 0.25]
    assert out.mean_tokens_per_request == pytest.approx(0.75 * 2400 + 0.25 * 600)


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(InfercostError) as err:
        break_even(FLAT, MODEL, HW, mix=WorkloadMix.single(10, 10), utilization=0.0)
    assert err.value.field == "utilization" and "\n" not in str(err.value)
    with pytest.raises(InfercostError) as err:
        WorkloadMix.single(10, 10, cached_input_tokens=11)
    assert err.value.field == "cached_input_tokens"
    with pytest.raises(InfercostError):
        WorkloadMix(classes=())


def test_cli_breakeven_against_a_user_sheet(tmp_path: Path) -> None:
    app, price = typer.Typer(), typer.Typer()
    register(price)
    app.add_typer(price, name="price")
    file = tmp_path / "flat.yaml"
    file.write_text(yaml.safe_dump(FLAT.model_dump(mode="json", exclude_none=True)))
    args = ["price", "breakeven", str(file), "--like", MODEL, "--hardware", HW, "--chips", "1"]
    args += ["--price-per-hour", "2", "--cached", "500"]
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["sheet"] == "test/flat" and data["stays_cheaper_above_tokens_per_day"] > 0
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0 and "stays cheaper above" in table.output
    bad = CliRunner().invoke(app, [*args, "--utilization", "0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
