"""`price sheet`: cost-based prices = cost ÷ (1 − margin) ÷ utilization, as a loadable PriceSheet."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from infercost import estimate
from infercost.commands.price_extra import register
from infercost.econ.frontier import frontier
from infercost.econ.price_derive import derive_sheet
from infercost.econ.price_sheets import load_price_sheets, request_cost_usd
from infercost.errors import InfercostError

MODEL, HW = "llama-3.1-8b", "h100-sxm"


@pytest.fixture(scope="module")
def derived():  # type: ignore[no-untyped-def]
    return derive_sheet(MODEL, HW, chips=1, isl=2000, osl=400, margin=0.4, price_per_hour=2.0)


def test_prices_are_cost_over_one_minus_margin_over_utilization() -> None:
    d = derive_sheet(
        MODEL, HW, chips=1, batch=32, isl=2000, osl=400, margin=0.25, utilization=0.5,
        price_per_hour=2.0,
    )  # fmt: skip
    est = estimate(MODEL, HW, chips=1, batch=32, isl=2000, osl=400, price_per_hour=2.0)
    assert est.usd_per_mtok_input is not None and est.usd_per_mtok_output is not None
    assert d.input_usd_per_mtok == pytest.approx(est.usd_per_mtok_input / 0.75 / 0.5)
    assert d.output_usd_per_mtok == pytest.approx(est.usd_per_mtok_output / 0.75 / 0.5)
    assert d.markup == pytest.approx(1 / 0.75 / 0.5)
    # by hand: $2/h for the prefill seconds of 2000 tokens
    assert d.cost_input_usd_per_mtok == pytest.approx(2.0 / 3600 * est.ttft_ms / 1e3 / 2000 * 1e6)
    assert d.price.source == "user input" and "user input" in d.source


def test_output_input_ratio_is_the_estimates_cost_ratio(derived) -> None:  # type: ignore[no-untyped-def]
    est = estimate(MODEL, HW, chips=1, batch=derived.batch, isl=2000, osl=400, price_per_hour=2.0)
    assert est.usd_per_mtok_input and est.usd_per_mtok_output
    assert derived.output_usd_per_mtok / derived.input_usd_per_mtok == pytest.approx(
        est.usd_per_mtok_output / est.usd_per_mtok_input
    )


def test_default_batch_is_the_frontier_best_and_fast_tier_its_fast_mode(derived) -> None:  # type: ignore[no-untyped-def]
    front = frontier(MODEL, HW, chips=1, isl=2000, osl=400, price_per_hour=2.0)
    assert derived.batch == front.best.batch
    fm = front.fast_mode(2.0)
    assert derived.fast is not None and fm.reachable
    assert derived.fast.batch == fm.batch
    assert derived.fast.price_multiple == pytest.approx(fm.price_multiple)
    assert derived.batch_discount == 0.0  # interactive batch is already the best batch


def test_tpot_target_gives_a_batch_discount_in_unit_interval() -> None:
    d = derive_sheet(MODEL, HW, chips=1, isl=2000, osl=400, tpot_ms=12.5, price_per_hour=2.0)
    assert d.tpot_ms <= 12.5 * 1.05
    assert d.batch < d.batch_tier_batch
    assert 0 < d.batch_discount < 1
    cached = d.cached_input_read_usd_per_mtok
    assert cached is not None and 0 <= cached <= d.input_usd_per_mtok
    assert d.long_context is not None
    assert d.long_context.output_usd_per_mtok >= d.output_usd_per_mtok
    assert d.long_context.above_tokens >= 2000


def test_round_trip_through_yaml(derived, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheet = derived.to_price_sheet()
    assert sheet.source.startswith(f"infercost derived: {MODEL} on 1× {HW}, margin 0.4")
    assert sheet.as_of == dt.date.today().isoformat()
    file = tmp_path / "mine.yaml"
    file.write_text(yaml.safe_dump(sheet.model_dump(mode="json", exclude_none=True)))
    (loaded,) = load_price_sheets(file)
    assert loaded == sheet
    cost = request_cost_usd(loaded, input_tokens=2000, output_tokens=400)
    assert cost == pytest.approx(
        (2000 * derived.input_usd_per_mtok + 400 * derived.output_usd_per_mtok) / 1e6
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"margin": 1.0}, "margin"),
        ({"margin": -0.1}, "margin"),
        ({"utilization": 0.0}, "utilization"),
        ({"fast_speed": 0.5}, "fast_speed"),
        ({"tpot_ms": 0.01}, "tpot_ms"),
        ({"batch": 0}, "batch"),
    ],
)
def test_bad_inputs_are_one_line_errors(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InfercostError) as err:
        derive_sheet(MODEL, HW, chips=1, price_per_hour=2.0, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field and "\n" not in str(err.value)


def _app() -> typer.Typer:
    app, price = typer.Typer(), typer.Typer()
    register(price)
    app.add_typer(price, name="price")
    return app


def test_cli_sheet_writes_a_loadable_yaml(tmp_path: Path) -> None:
    out = tmp_path / "sheet.yaml"
    args = ["price", "sheet", MODEL, "--hardware", HW, "--chips", "1", "--price-per-hour", "2"]
    result = CliRunner().invoke(_app(), [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "user input" in result.output and "assumes:" in result.output
    (loaded,) = load_price_sheets(out)
    assert loaded.provider == "self-hosted"
    data = json.loads(CliRunner().invoke(_app(), [*args, "--json"]).stdout)
    assert data["sheet"]["input_usd_per_mtok"] == pytest.approx(loaded.input_usd_per_mtok)
    bad = CliRunner().invoke(_app(), [*args, "--margin", "1"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
