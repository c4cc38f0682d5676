"""The command line: JSON contract, tables, and one-line errors with exit status 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from infercost.cli import app

runner = CliRunner()

REQUIRED_KEYS = {
    "ttft_ms",
    "tpot_ms",
    "output_tps",
    "output_tps_per_chip",
    "weights_bytes_per_chip",
    "kv_bytes_per_token",
    "max_concurrent_sequences",
    "latency_floor_ms",
    "critical_batch",
    "usd_per_mtok_output",
    "usd_per_mtok_input",
    "breakdown",
}


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_estimate_json_has_the_contract_keys_and_consistent_costs():  # type: ignore[no-untyped-def]
    result = run(
        "estimate",
        "llama-3.1-70b",
        "--hardware",
        "h100-sxm",
        "--tp",
        "4",
        "--batch",
        "32",
        "--isl",
        "1000",
        "--osl",
        "200",
        "--price-per-hour",
        "2.5",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data.keys() >= REQUIRED_KEYS
    assert data["chips"] == 4
    # $/1M output = 4 chips × $2.5/h × TPOT ÷ batch
    expected = 4 * 2.5 / 3600 * data["tpot_ms"] / 1e3 / 32 * 1e6
    assert data["usd_per_mtok_output"] == pytest.approx(expected)
    assert data["usd_per_mtok_input"] == pytest.approx(
        4 * 2.5 / 3600 * data["ttft_ms"] / 1e3 / 1000 * 1e6
    )
    parts = sum(v for k, v in data["breakdown"].items() if k != "total_ms")
    assert parts == pytest.approx(data["breakdown"]["total_ms"])
    assert data["provenance"]["price_source"] == "--price-per-hour"


def test_estimate_table_shows_breakdown_memory_and_cost():  # type: ignore[no-untyped-def]
    result = run("estimate", "llama-3.1-8b", "-H", "h100-sxm", "--batch", "8")
    assert result.exit_code == 0, result.output
    for label in ("compute", "weights", "KV", "comm", "overhead", "TTFT", "TPOT", "$ / 1M output"):
        assert label in result.output


def test_model_path_is_accepted(tmp_path):  # type: ignore[no-untyped-def]
    from infercost.catalog import DATA

    (tmp_path / "config.json").write_text((DATA / "models" / "qwen3-8b.json").read_text())
    result = run("estimate", str(tmp_path), "-H", "l40s", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total_params"] > 8e9


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["estimate", "no-such-model", "-H", "h100-sxm"], "model"),
        (["estimate", "llama-3.1-8b", "-H", "h100-sxn"], "hardware"),
        (["estimate", "llama-3.1-8b", "-H", "h100-sxm", "--tp", "3"], "tp"),
        (["estimate", "llama-3.1-8b", "-H", "h100-sxm", "--batch", "-4"], "batch"),
        (["estimate", "llama-3.1-8b", "-H", "h100-sxm", "--weights", "int3"], "weights"),
        (["estimate", "llama-3.1-405b", "-H", "h100-sxm"], "model"),
        (["estimate", "llama-3.1-8b", "-H", "h100-sxm", "--chips", "4", "--tp", "2"], "chips"),
        (["estimate", "llama-3.1-8b", "-H", "h100-sxm", "--ep", "2"], "ep"),
        (["estimate", "llama-3.1-8b", "-H", "h100-sxm", "--engine", "foo"], "engine"),
        (["estimate", "llama-3.1-8b", "-H", "a10g"], "hardware"),
        (["hardware", "show", "tpu-v99"], "hardware"),
        (["models", "show", "gpt-9"], "model"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, field):  # type: ignore[no-untyped-def]
    result = run(*args)
    assert result.exit_code == 2
    out = result.output.strip()
    assert "Traceback" not in out
    assert out.startswith(f"error: {field}")
    assert len(out.splitlines()) == 1


def test_hardware_and_models_listings():  # type: ignore[no-untyped-def]
    hw = run("hardware", "list", "--json")
    assert hw.exit_code == 0
    ids = {h["id"] for h in json.loads(hw.output)}
    assert {"h100-sxm", "tpu-v5e", "apple-m2-ultra"} <= ids
    show = run("hardware", "show", "h100-sxm", "--json")
    assert json.loads(show.output)["drain_time_ms"] == pytest.approx(80 / 3350 * 1e3)
    models = run("models", "show", "llama-3.1-8b", "--json")
    assert json.loads(models.output)["kv_bytes_per_token"] == 131072
    assert run("models", "list").exit_code == 0
    assert run("hardware", "list").exit_code == 0
