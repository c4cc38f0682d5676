"""Validation: file reading, per-row reasons, scenario semantics on hand-checkable rows, scoring."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import VALIDATION_ROW
from infercost.cli import app
from infercost.errors import InfercostError
from infercost.perf.efficiency import shipped_profile
from infercost.validation import validate
from infercost.validation.predict import Unpredictable, predict_with, prepare
from infercost.validation.rows import COLUMNS, Row, RowProblem, parse_row, read_rows
from infercost.validation.score import RowResult, summary

BASE = VALIDATION_ROW


def write(tmp_path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or list(BASE))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: v for k, v in row.items() if k in (columns or BASE)})
    return path


def row(**changes: str) -> Row:
    parsed = parse_row({**BASE, **changes})
    assert isinstance(parsed, Row)
    return parsed


def value_of(r: Row) -> float:
    return predict_with(prepare(r), shipped_profile()).value


def test_missing_columns_is_one_error(tmp_path):  # type: ignore[no-untyped-def]
    path = write(tmp_path, [BASE], columns=[c for c in BASE if c != "metric"])
    with pytest.raises(InfercostError, match="missing columns: metric"):
        read_rows(path)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"value": "fast"}, "not a number"),
        ({"chips": "0"}, "chips"),
        ({"scenario": "batchy"}, "scenario"),
        ({"metric": "vibes"}, "metric"),
        ({"isl": "12.5"}, "whole number"),
    ],
)
def test_bad_values_become_row_reasons(changes, reason):  # type: ignore[no-untyped-def]
    parsed = parse_row({**BASE, **changes})
    assert isinstance(parsed, RowProblem)
    assert reason in parsed.reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"model": "gpt-17"}, "model"),
        ({"hardware": "h100-sxn"}, "hardware"),
        ({"osl": ""}, "lengths unknown"),
        ({"tp": "3", "chips": "3"}, "tp"),
    ],
)
def test_unpredictable_rows_say_why(changes, reason):  # type: ignore[no-untyped-def]
    with pytest.raises(Unpredictable, match=reason):
        prepare(row(**changes))


def test_single_stream_metrics_are_consistent():  # type: ignore[no-untyped-def]
    tpot = value_of(row(metric="tpot_ms"))
    per_user = value_of(row(metric="decode_tps_per_user"))
    assert per_user == pytest.approx(1e3 / tpot)
    assert value_of(row(metric="decode_tps")) == pytest.approx(per_user)


def test_fixed_batch_output_counts_every_sequence():  # type: ignore[no-untyped-def]
    one = value_of(row(scenario="fixed-batch", concurrency="1", metric="output_tps"))
    many = value_of(row(scenario="fixed-batch", concurrency="32", metric="output_tps"))
    assert 1 < many / one <= 32
    per_chip = value_of(
        row(
            scenario="fixed-batch",
            concurrency="32",
            metric="output_tps_per_chip",
            chips="2",
            tp="2",
        )
    )
    total = value_of(
        row(scenario="fixed-batch", concurrency="32", metric="output_tps", chips="2", tp="2")
    )
    assert per_chip == pytest.approx(total / 2)


def test_offline_throughput_beats_any_closed_loop_it_contains():  # type: ignore[no-untyped-def]
    offline = value_of(row(scenario="offline", concurrency="max", metric="output_tps"))
    closed = value_of(row(scenario="closed-loop", concurrency="16", metric="output_tps"))
    assert offline >= closed


def test_server_rate_respects_a_tighter_target():  # type: ignore[no-untyped-def]
    loose = value_of(
        row(
            scenario="server",
            metric="output_tps",
            slo_ttft_ms="2000",
            slo_tpot_ms="100",
            concurrency="",
        )
    )
    tight = value_of(
        row(
            scenario="server",
            metric="output_tps",
            slo_ttft_ms="2000",
            slo_tpot_ms="12",
            concurrency="",
        )
    )
    assert tight <= loose


def test_empty_layout_picks_the_best_split():  # type: ignore[no-untyped-def]
    chosen = value_of(row(chips="4", tp="", pp="", metric="tpot_ms", model="llama-3.1-70b"))
    tp4 = value_of(row(chips="4", tp="4", pp="1", metric="tpot_ms", model="llama-3.1-70b"))
    assert chosen <= tp4


def test_summary_hand_computed():  # type: ignore[no-untyped-def]
    def result(pred: float | None, meas: float = 100.0) -> RowResult:
        return RowResult("x", "s", "m", "h", "e", "offline", "output_tps", meas, pred, "")

    s = summary([result(110), result(80), result(150), result(None)])
    assert s["rows"] == 4 and s["covered"] == 3
    assert s["mdape_pct"] == pytest.approx(20.0)
    assert s["mape_pct"] == pytest.approx((10 + 20 + 50) / 3)
    assert s["within_25_pct"] == pytest.approx(200 / 3)


def test_validate_file_with_mixed_rows(tmp_path):  # type: ignore[no-untyped-def]
    path = write(
        tmp_path, [BASE, {**BASE, "id": "T2", "model": "nope"}, {**BASE, "id": "T3", "value": "x"}]
    )
    result = validate(path)
    by_id = {r.id: r for r in result.rows}
    assert by_id["T1"].covered and not by_id["T2"].covered and not by_id["T3"].covered
    assert "model" in by_id["T2"].reason


def test_cli_validate_json_and_rows_csv(tmp_path):  # type: ignore[no-untyped-def]
    path = write(
        tmp_path, [BASE, {**BASE, "id": "T2", "metric": "decode_tps_per_user", "value": "140"}]
    )
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["validate", str(path), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in (
        "rows",
        "covered",
        "mdape_pct",
        "mape_pct",
        "within_25_pct",
        "by_metric",
        "by_scenario",
        "by_hardware",
        "by_engine",
    ):
        assert key in data
    with out.open() as handle:
        header = next(csv.reader(handle))
    assert header[:8] == [
        "id",
        "predicted",
        "measured",
        "error_pct",
        "covered",
        "reason",
        "interval_low",
        "interval_high",
    ]


def test_cli_validate_missing_file_is_one_line():  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["validate", "/no/such.csv"])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: file")


def test_columns_constant_matches_the_readme_schema():  # type: ignore[no-untyped-def]
    assert set(COLUMNS) <= set(BASE)


def test_cli_calibrate_writes_a_loadable_profile_and_held_out_rows(tmp_path):  # type: ignore[no-untyped-def]
    import yaml

    from infercost.perf.efficiency import EfficiencyProfile

    rows = [
        {**BASE, "id": "C1", "source": "doc-a", "metric": "tpot_ms", "value": "8.0"},
        {**BASE, "id": "C2", "source": "doc-a", "metric": "ttft_ms", "value": "30", "isl": "2048"},
        {**BASE, "id": "C3", "source": "doc-b", "metric": "tpot_ms", "value": "9.0", "osl": "1024"},
        {**BASE, "id": "C4", "source": "doc-b", "metric": "ttft_ms", "value": "60", "isl": "4096"},
    ]
    path = write(tmp_path, rows)
    out, held = tmp_path / "eff.yaml", tmp_path / "held.csv"
    args = [
        "fit-efficiency",
        str(path),
        "--version",
        "t1",
        "--out",
        str(out),
        "--held-out",
        str(held),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    profile = EfficiencyProfile.model_validate(yaml.safe_load(out.read_text()))
    assert profile.version == "t1"
    assert profile.cross_validated is not None and profile.cross_validated.covered == 4
    with held.open() as handle:
        assert {r["id"] for r in csv.DictReader(handle)} == {"C1", "C2", "C3", "C4"}
