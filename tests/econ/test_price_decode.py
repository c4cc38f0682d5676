"""`price decode`: every implication is numeric, sourced and consistent with `estimate`."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from infercost import catalog, estimate
from infercost.cli import app
from infercost.econ.price_decode import decode_sheet
from infercost.econ.price_sheets import price_sheet
from infercost.errors import InfercostError

SHEETS = [
    "anthropic/claude-sonnet-4-5",
    "openai/gpt-4o",
    "together/meta-llama-3.1-70b-instruct-turbo",
]


@pytest.mark.parametrize("ref", SHEETS)
def test_three_real_sheets_give_numeric_implications(ref: str) -> None:
    result = decode_sheet(ref, "llama-3.1-70b", "h100-sxm", chips=4)
    assert result.implications
    assert result.sheet_source and "undated" not in result.sheet_source
    for imp in result.implications:
        assert re.search(r"\d", imp.sheet) and re.search(r"\d", imp.modeled)
        assert imp.assumptions


def test_output_input_ratio_is_the_estimates_decode_over_prefill_cost() -> None:
    est = estimate("llama-3.1-70b", "h100-sxm", chips=4, batch=64, isl=2048, osl=512)
    result = decode_sheet("openai/gpt-4o", "llama-3.1-70b", "h100-sxm", chips=4)
    first = result.implications[0]
    assert est.usd_per_mtok_output is not None and est.usd_per_mtok_input is not None
    assert f"{est.usd_per_mtok_output / est.usd_per_mtok_input:.2f}×" in first.modeled
    assert first.sheet.startswith("4.00×")  # $10 ÷ $2.5


def test_cache_storage_cost_by_hand() -> None:
    sheet = price_sheet("anthropic/claude-sonnet-4-5")
    est = estimate("llama-3.1-70b", "h100-sxm", chips=4, batch=64, isl=2048, osl=512)
    hw = catalog.hardware("h100-sxm")
    assert est.usd_per_hour is not None and hw.memory_bytes is not None
    per_byte_hour = est.usd_per_hour / (4 * hw.memory_bytes)
    ttl = sheet.cache_write_ttl_s or 300.0
    expected = est.kv_bytes_per_token * 1e6 * per_byte_hour * ttl / 3600
    cache = next(
        i
        for i in decode_sheet(sheet, "llama-3.1-70b", "h100-sxm", chips=4).implications
        if i.topic == "cache-hit discount"
    )
    assert f"${expected:,.4g}/Mtok" in cache.modeled


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(InfercostError) as err:
        decode_sheet("openai/gpt-4o", "llama-3.1-70b", "h100-sxm", chips=4, batch=0)
    assert "\n" not in str(err.value)
    result = CliRunner().invoke(app, ["price", "decode", "openai/gpt-5o-nope"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_cli_json_and_list() -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["price", "decode", "openai/gpt-4o", "--chips", "4", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["sheet"] == "openai/gpt-4o" and data["implications"]
    listed = runner.invoke(app, ["price", "list", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) > 100
