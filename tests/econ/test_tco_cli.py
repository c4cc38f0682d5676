"""`infercost tco`: rented rows with sources, owned TCO by hand, idle waste."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from infercost import catalog
from infercost.cli import app


def test_owned_tco_and_waste_by_hand() -> None:
    result = CliRunner().invoke(
        app,
        [
            "tco",
            "h100-sxm",
            "--capex",
            "25000",
            "--years",
            "4",
            "--usd-per-kwh",
            "0.1",
            "--utilization",
            "0.6",
            "--pue",
            "1.3",
            "--observed-utilization",
            "0.25",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    tdp = catalog.hardware("h100-sxm").tdp_w
    assert tdp is not None
    expected = 25000 / (4 * 8760) + tdp / 1000 * 0.6 * 1.3 * 0.1
    assert abs(data["owned"]["usd_per_chip_hour"] - expected) < 1e-9
    assert abs(data["observed_utilization"]["wasted_share"] - 0.75) < 1e-12
    assert all(r["source"] for r in data["rented"])


def test_bad_input_is_one_line() -> None:
    result = CliRunner().invoke(app, ["tco", "h100-sxm", "--capex", "-5"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
