"""Rich tables for the terminal. Rendering only: every number comes from the library result."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from infercost.estimation import Breakdown, Estimate
from infercost.specs.hardware import Hardware
from infercost.specs.model import ModelSpec

GiB = 1024.0**3


def _num(value: float | None, fmt: str = ",.2f", unit: str = "") -> str:
    if value is None:
        return "n/a"
    if value == float("inf"):
        return "unbounded"
    return f"{value:{fmt}}{unit}"


def _usd(value: float | None) -> str:
    return "n/a (no price: use --price-per-hour)" if value is None else f"${value:,.4g}"


def _kv_table(title: str, rows: Iterable[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in rows:
        table.add_row(key, value)
    return table


def _breakdown_row(name: str, b: Breakdown) -> list[str]:
    parts = [b.compute_ms, b.weights_ms, b.kv_ms, b.comm_ms, b.overhead_ms, b.total_ms]
    return [name, *(f"{p:,.3f}" for p in parts)]


def estimate_view(e: Estimate) -> Group:
    layout = f"tp={e.tp} pp={e.pp} dp={e.dp} ep={e.ep}"
    head = Text.assemble(
        (f"{e.model}", "bold cyan"),
        " on ",
        (f"{e.chips} × {e.hardware}", "bold cyan"),
        f"  ({layout}; weights {e.weights}, KV {e.kv}, matmuls at {e.provenance.compute_format})\n",
        f"workload: batch {e.batch}, {e.isl} prompt tokens, {e.osl} output tokens",
    )
    steps = Table(title="Time per step (ms)", title_justify="left")
    for col in ("", "compute", "weights", "KV", "comm", "overhead", "total"):
        steps.add_column(col, justify="right" if col else "left")
    steps.add_row(*_breakdown_row(f"decode step (batch {e.batch})", e.breakdown))
    chunks = len(e.prefill_chunks_ms)
    label = f"prefill ({e.isl} tokens" + (f", {chunks} chunks)" if chunks > 1 else ")")
    steps.add_row(*_breakdown_row(label, e.prefill_breakdown))

    memory = _kv_table(
        "Memory per chip",
        [
            ("weights", f"{e.weights_bytes_per_chip / GiB:,.2f} GiB"),
            ("KV cache free", f"{e.kv_free_bytes_per_chip / GiB:,.2f} GiB"),
            ("KV bytes / token (model)", f"{e.kv_bytes_per_token:,.0f} B"),
            ("KV bytes / token (this chip)", f"{e.kv_bytes_per_token_per_chip:,.0f} B"),
            ("KV capacity (replica)", f"{_num(e.kv_capacity_tokens, ',.0f')} tokens"),
            (
                f"max concurrent sequences at {e.isl + e.osl} tokens",
                _num(e.max_concurrent_sequences, ",.0f"),
            ),
        ],
    )
    speed = _kv_table(
        "Latency and throughput",
        [
            ("TTFT (prefill, no queueing)", f"{e.ttft_ms:,.1f} ms{_band(e, 'ttft_ms', ',.1f')}"),
            ("TPOT", f"{e.tpot_ms:,.2f} ms{_band(e, 'tpot_ms', ',.2f')}"),
            ("tokens/s per user", f"{e.tokens_per_s_per_user:,.1f}"),
            ("decode tokens/s (batch)", f"{e.decode_tps:,.0f}"),
            ("output tokens/s (steady state, incl. prefill)", f"{e.output_tps:,.0f}"),
            ("output tokens/s per chip", f"{e.output_tps_per_chip:,.0f}"),
            ("latency floor (weights + KV at peak bandwidth)", f"{e.latency_floor_ms:,.2f} ms"),
            ("critical batch (decode turns compute-bound)", _num(e.critical_batch, ",.0f")),
        ],
    )
    p = e.provenance
    warning = (
        Text(f"outside the calibrated domain: {e.outside_calibrated_domain}", style="yellow")
        if e.outside_calibrated_domain
        else Text("")
    )
    price_note = p.price_source or "none in catalog"
    cost = _kv_table(
        "Cost",
        [
            ("$ / chip-hour", _usd(e.usd_per_chip_hour)),
            ("$ / hour (all chips)", _usd(e.usd_per_hour)),
            ("$ / 1M output tokens", _usd(e.usd_per_mtok_output)),
            ("$ / 1M input tokens", _usd(e.usd_per_mtok_input)),
            ("$ / request", _usd(e.usd_per_request)),
        ],
    )
    sources = Text(
        f"price: {price_note} (as of {p.price_as_of or 'undated'})\n"
        f"hardware: {_first(p.hardware_source)} (as of {p.hardware_as_of})\n"
        f"efficiency model: {p.efficiency_version}",
        style="dim",
    )
    return Group(head, steps, memory, speed, cost, warning, sources)


def _band(e: Estimate, metric: str, fmt: str) -> str:
    """ " (80 % interval lo–hi)" when the calibration provides one."""
    band = e.intervals.get(metric)
    return f" (80 %: {band.low:{fmt}}–{band.high:{fmt}})" if band else ""


def _first(source: str | list[str]) -> str:
    return source if isinstance(source, str) else (source[0] if source else "?")


def hardware_table(items: list[Hardware]) -> Table:
    table = Table(title="Hardware catalog")
    for col in (
        "id",
        "name",
        "bf16 TFLOP/s",
        "fp8",
        "fp4",
        "memory GB",
        "GB/s",
        "scale-up",
        "TDP W",
    ):
        table.add_column(col, justify="left" if col in ("id", "name") else "right")
    for h in items:
        peaks = h.peak_tflops
        table.add_row(
            h.id,
            h.name,
            _num(peaks.get("bf16") or peaks.get("fp16"), ",.0f"),
            _num(peaks.get("fp8"), ",.0f"),
            _num(peaks.get("fp4"), ",.0f"),
            _num(h.memory_gb, ",.0f"),
            _num(h.memory_bw_gbps, ",.0f"),
            f"{h.scale_up.domain_size}×{_num(h.scale_up.bw_gbps, ',.0f')}",
            _num(h.tdp_w, ",.0f"),
        )
    return table


def models_table(items: list[ModelSpec]) -> Table:
    table = Table(title="Model catalog (KV at bf16)")
    for col in ("id", "architecture", "layers", "total B", "active B", "KV B/token"):
        table.add_column(col, justify="left" if col in ("id", "architecture") else "right")
    for m in items:
        table.add_row(
            m.id,
            m.architecture + (" (approx.)" if m.approximate else ""),
            str(m.num_layers),
            f"{m.total_params / 1e9:,.2f}",
            f"{m.active_params / 1e9:,.2f}",
            f"{m.kv_bytes_per_token(2.0):,.0f}",
        )
    return table


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _summary_table(title: str, groups: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("", "rows", "covered", "MdAPE", "MAPE", "within ±25 %"):
        table.add_column(col, justify="left" if not col else "right")
    for name, s in groups.items():
        table.add_row(
            name,
            str(s["rows"]),
            str(s["covered"]),
            _pct(s["mdape_pct"]),
            _pct(s["mape_pct"]),
            _pct(s["within_25_pct"]),
        )
    return table


def validation_view(summary: dict[str, Any]) -> Group:
    title = f"Validation (efficiency model {summary['efficiency_version']})"
    parts: list[Table | Text] = [_summary_table(title, {"all rows": summary})]
    for key, label in (
        ("by_metric", "By metric"),
        ("by_scenario", "By scenario"),
        ("by_hardware", "By hardware"),
        ("by_engine", "By engine"),
    ):
        parts.append(_summary_table(label, summary[key]))
    worst = Table(title="Worst rows", title_justify="left")
    for col in ("id", "model", "hardware", "scenario", "metric", "measured", "predicted", "error"):
        worst.add_column(col)
    for w in summary["worst"]:
        worst.add_row(
            w["id"],
            w["model"],
            w["hardware"],
            w["scenario"],
            w["metric"],
            f"{w['measured']:,.4g}",
            f"{w['predicted']:,.4g}",
            f"{w['error_pct']:+.0f} %",
        )
    parts.append(worst)
    if summary["not_covered"]:
        lines = "\n".join(f"  {m['id']}: {m['reason']}" for m in summary["not_covered"])
        parts.append(Text(f"Not covered:\n{lines}", style="dim"))
    return Group(*parts)
