"""Quantization what-if: fp8 halves the linear weights, frees memory for more sequences and is cheaper
when memory-bound; the quality column carries only sourced numbers or user input; the CLI."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

import pytest
import typer
import yaml
from typer.testing import CliRunner

from infercost import catalog
from infercost.commands.frontier import register
from infercost.econ.quantization import (
    QuantizationWhatIf,
    published_quality,
    quantization_whatif,
    supported_formats,
)
from infercost.errors import InfercostError

AS_OF = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


@cache
def llama70b() -> QuantizationWhatIf:
    return quantization_whatif("llama-3.1-70b", "h100-sxm", chips=8, batch=64)


def test_fp8_halves_weight_bytes_and_raises_concurrency() -> None:
    q = llama70b()
    rows = {r.format: r for r in q.rows}
    bf16, fp8 = rows["bf16"], rows["fp8"]
    spec = catalog.model("llama-3.1-70b")
    # embedding / LM head / final norm stay at bf16; everything else is stored at half the bytes
    tables = (spec.embedding_params + spec.lm_head_params + spec.final_norm_params) * 2.0 / 8
    assert fp8.weights_bytes_per_chip - tables == pytest.approx(
        (bf16.weights_bytes_per_chip - tables) / 2
    )
    assert fp8.weights_vs_baseline == pytest.approx(0.5, abs=0.03)
    assert fp8.max_concurrent_sequences > bf16.max_concurrent_sequences
    # memory-bound decode at batch 64: fewer weight bytes → faster and cheaper
    assert fp8.tpot_ms is not None and bf16.tpot_ms is not None
    assert fp8.tpot_ms < bf16.tpot_ms
    assert fp8.usd_per_mtok_output is not None and bf16.usd_per_mtok_output is not None
    assert fp8.usd_per_mtok_output < bf16.usd_per_mtok_output
    assert rows["int4"].weights_bytes_per_chip < fp8.weights_bytes_per_chip
    assert fp8.compute_format == "fp8" and rows["int4"].compute_format == "fp16"


def test_unsupported_formats_are_skipped_with_a_reason() -> None:
    q = llama70b()
    assert [r.format for r in q.rows] == ["bf16", "fp8", "int8", "int4"]
    assert "fp4" in q.skipped and "fp4" in q.skipped["fp4"]
    keep, skipped = supported_formats(catalog.hardware("b200"), ["fp4", "fp8"])
    assert keep == ["bf16", "fp4", "fp8"] and not skipped


def test_quality_is_sourced_or_unknown() -> None:
    q = llama70b()
    rows = {r.format: r for r in q.rows}
    assert rows["bf16"].quality.loss_pct == 0.0
    fp8 = rows["fp8"].quality
    assert fp8.source and fp8.source.startswith("https://") and fp8.as_of
    # 84.40 → 84.29 on the same model card
    assert fp8.loss_pct == pytest.approx((84.40 - 84.29) / 84.40 * 100)
    assert rows["int8"].quality.loss_pct is None and rows["int8"].quality.source is None
    assert published_quality("llama-3.1-70b", "fp4").loss_pct is None
    user = quantization_whatif("llama-3.1-70b", "h100-sxm", chips=8, quality={"int8": 0.7})
    assert {r.format: r for r in user.rows}["int8"].quality.source == "user input"


def test_quality_file_holds_only_sourced_numbers() -> None:
    text = (resources.files("infercost.catalog") / "data" / "quantization_quality.yaml").read_text()
    formats = set(catalog.format_ids())
    for row in yaml.safe_load(text):
        assert row["model"] in catalog.model_ids() and row["format"] in formats
        scores = (row["baseline_score"], row["quantized_score"])
        if any(s is not None for s in scores):
            assert all(s is not None and s > 0 for s in scores)
            assert row["source"] and AS_OF.match(str(row["as_of"])) and row["benchmark"]
        else:
            assert row["source"] is None


def test_batch_is_capped_at_what_fits_and_errors_are_one_line() -> None:
    q = quantization_whatif("llama-3.1-70b", "h100-sxm", chips=8, batch=100_000, formats=["fp8"])
    for r in q.rows:
        assert r.batch == r.max_concurrent_sequences
    with pytest.raises(InfercostError, match="quality"):
        quantization_whatif("llama-3.1-8b", "h100-sxm", quality={"fp4": 1.0})
    with pytest.raises(InfercostError, match="formats"):
        quantization_whatif("llama-3.1-8b", "h100-sxm", formats=["fp7"])
    with pytest.raises(InfercostError, match="batch") as err:
        quantization_whatif("llama-3.1-8b", "h100-sxm", batch=0)
    assert "\n" not in str(err.value)


def test_quantize_cli() -> None:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["quantize", "llama-3.1-70b", "--hardware", "h100-sxm", "--chips", "8", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["format"] for r in data["rows"]] == ["bf16", "fp8", "int8", "int4"]
    table = runner.invoke(
        app,
        [
            "quantize",
            "llama-3.1-8b",
            "--hardware",
            "h100-sxm",
            "--formats",
            "fp8,int4",
            "--quality",
            "int4=2.5",
            "--price-per-hour",
            "2",
        ],
        env={"COLUMNS": "200"},
    )
    assert table.exit_code == 0, table.output
    assert "user input" in table.stdout and "huggingface.co" in table.stdout
    bad = runner.invoke(
        app, ["quantize", "llama-3.1-8b", "--hardware", "h100-sxm", "--quality", "fp8:1"]
    )
    assert bad.exit_code == 2
