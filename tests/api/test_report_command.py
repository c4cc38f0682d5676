"""`infercost report`: one self-contained HTML page (plotly.js inline, no URL to load) and PNGs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infercost import estimate, frontier
from infercost.cli import app
from infercost.report.html import KeyValues, Notes, Report, Table, number, render_html

PNG = b"\x89PNG\r\n\x1a\n"
EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def offline(page: str) -> None:
    """Everything inline: no script or stylesheet from anywhere."""
    assert "Plotly.newPlot" in page
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)


def test_estimate_report(tmp_path: Path) -> None:
    est = estimate("llama-3.1-70b", "h100-sxm", tp=4, batch=16)
    (tmp_path / "e.json").write_text(json.dumps(est.model_dump(mode="json")))
    result = runner.invoke(
        app, ["report", "estimate", str(tmp_path / "e.json"), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r" / "report.html").read_text()
    offline(page)
    assert f"<td>{number(est.tpot_ms)} ms</td>" in page
    assert f"<td>{number(est.breakdown.weights_ms)}</td>" in page
    assert (tmp_path / "r" / "estimate.png").read_bytes().startswith(PNG)


def test_frontier_report_from_cli_json(tmp_path: Path) -> None:
    made = runner.invoke(
        app, ["frontier", "llama-3.1-70b", "-H", "h100-sxm", "--speed", "2", "--json"]
    )
    assert made.exit_code == 0, made.output
    (tmp_path / "f.json").write_text(made.stdout)
    result = runner.invoke(
        app, ["report", "frontier", str(tmp_path / "f.json"), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r" / "report.html").read_text()
    offline(page)
    front = frontier("llama-3.1-70b", "h100-sxm")
    for p in front.points:
        assert f"<td>{p.batch}</td><td>{number(p.tpot_ms)}</td>" in page
    assert "fast mode 2×" in page
    assert (tmp_path / "r" / "frontier.png").read_bytes().startswith(PNG)


def test_simulate_report(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: tiny\nmodel: llama-3.1-8b\ndeployment: {hardware: h100-sxm}\n"
        "workload: {requests: 60, arrival: {kind: poisson, rate_rps: 4}, "
        "classes: [{name: c, prompt: 300, output: 80}]}\n"
    )
    result = runner.invoke(app, ["report", "simulate", str(scenario), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r" / "report.html").read_text()
    offline(page)
    assert "simulate — tiny" in page and "<td>60</td>" in page
    assert (tmp_path / "r" / "simulation.png").read_bytes().startswith(PNG)


@pytest.mark.parametrize(
    ("kind", "content", "why"),
    [
        ("estimate", "{not json", "not JSON"),
        ("estimate", '{"model": "x"}', "not a result of `infercost estimate"),
        ("frontier", "[1, 2]", "not a result of `infercost frontier"),
    ],
)
def test_wrong_inputs_are_one_line_errors(
    tmp_path: Path, kind: str, content: str, why: str
) -> None:
    path = tmp_path / "in.json"
    path.write_text(content)
    result = runner.invoke(app, ["report", kind, str(path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert why in result.output and "Traceback" not in result.output


def test_text_is_escaped() -> None:
    page = render_html(
        Report(
            "<script>alert(1)</script>",
            blocks=[
                KeyValues("k", [("<b>", "<i>")]),
                Table("t", ["<c>"], [["<d>"]]),
                Notes("n", ["<e>"]),
            ],
        )
    )
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<b>" not in page and "<d>" not in page
    assert "Plotly" not in page  # no plot: no plotly.js either
