"""`infercost simulate`: the JSON contract, the files it writes, the shipped examples, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from infercost.cli import app
from infercost.sim.scenario import load_scenario

runner = CliRunner()
EXAMPLES = sorted(Path(__file__).parents[2].joinpath("examples").glob("simulate-*.yaml"))
REQUIRED = {
    "requests",
    "completed",
    "ttft_ms_p50",
    "ttft_ms_p99",
    "tpot_ms_p50",
    "tpot_ms_p99",
    "output_tps",
    "goodput_rps",
    "kv_occupancy_mean",
    "preemptions",
    "prefix_hit_rate",
}


def small(example: Path, tmp_path: Path, requests: int = 150) -> Path:
    """The example with fewer requests, written next to its original's data files."""
    data = yaml.safe_load(example.read_text())
    data["workload"]["requests"] = requests
    out = tmp_path / example.name
    out.write_text(yaml.safe_dump(data))
    return out


def test_examples_are_valid_scenarios() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"simulate-chat", "simulate-agent", "simulate-trace", "simulate-disaggregated"} <= names
    for path in EXAMPLES:
        load_scenario(path)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_json_has_the_contract_keys(example: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(example.read_text())
    # a trace replays its own rows (its path is relative to the example); others are cut short
    trace = data["workload"]["arrival"]["kind"] == "trace"
    scenario = example if trace else small(example, tmp_path)
    result = runner.invoke(app, ["simulate", str(scenario), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary.keys() >= REQUIRED
    assert summary["completed"] + summary["rejected"] == summary["requests"]


def test_out_writes_parquet_json_html_and_trace(tmp_path: Path) -> None:
    scenario = small(EXAMPLES[0], tmp_path)
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", str(scenario), "--out", str(out), "--trace"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    requests = pl.read_parquet(out / "requests.parquet")
    steps = pl.read_parquet(out / "steps.parquet")
    assert requests.height == summary["requests"]
    assert (
        steps["tokens_out"].sum()
        == requests.filter(pl.col("finish_s").is_not_nan())["output_tokens"].sum()
    )
    html = (out / "report.html").read_text()
    assert "plotly" in html and '<script src="http' not in html  # plotly.js inline: works offline
    trace = json.loads((out / "trace.json").read_text())
    assert len(trace["traceEvents"]) == steps.height


def test_bad_scenario_is_one_line_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "model": "llama-3.1-8b",
                "deployment": {"hardware": "h100-sxm"},
                "scheduler": {"block_size": 0},
                "workload": {
                    "arrival": {"kind": "poisson", "rate_rps": 1},
                    "requests": 5,
                    "classes": [{"prompt": 10, "output": 10}],
                },
            }
        )
    )
    result = runner.invoke(app, ["simulate", str(bad)])
    assert result.exit_code == 2
    assert "scheduler.block_size" in result.output
    assert "Traceback" not in result.output
