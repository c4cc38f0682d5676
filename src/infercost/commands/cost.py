"""`infercost cost WORKLOAD.yaml`: what a workload costs a month, per task, and what each lever saves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infercost.commands.base import JsonFlag, console, print_json, user_errors
from infercost.econ.workload_cost import TaskCost, WorkloadCost, cost_workload


def _usd(value: float) -> str:
    if value == 0:
        return "$0"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 0.01:
        return f"${value:,.2f}"
    return f"${value:.2g}"


def _per_unit(value: float) -> str:
    return f"${value:.4g}"


def _signed(value: float) -> str:
    return ("−" if value < 0 else "+") + _usd(abs(value))


def _tokens(value: float) -> str:
    return f"{value:,.0f}"


def _notes(task: TaskCost) -> str:
    notes = []
    if task.usd_per_hour is not None:
        notes.append(f"{_usd(task.usd_per_hour)}/hour")
    if task.fits_latency_budget is not None:
        notes.append("TTFT within budget" if task.fits_latency_budget else "TTFT over budget")
    if task.keeps_up_with_speech is not None:
        notes.append("keeps up with speech" if task.keeps_up_with_speech else "slower than speech")
    if task.tokens.reasoning:
        notes.append(f"{_tokens(task.tokens.reasoning)} reasoning")
    return "; ".join(notes)


def _render(result: WorkloadCost) -> None:
    title = f"workload {result.name}" if result.name else "workload"
    console.print(
        f"[bold]{title}[/]: {result.units_per_day:,.0f} units/day × {result.days_per_month:g} days "
        f"on {result.pricing}",
        highlight=False,
    )
    console.print(f"prices: {result.price_source}", highlight=False, soft_wrap=True)
    if result.small_model is not None:
        console.print(
            f"small model {result.small_model}: {result.small_model_source}",
            highlight=False,
            soft_wrap=True,
        )

    table = Table(title="per task (tokens per unit the model answers)")
    columns = (
        "task",
        "unit",
        "per day",
        "calls",
        "input",
        "cached",
        "cache write",
        "output",
        "$/unit",
        "$/month",
        "TTFT ms",
        "E2E ms",
        "notes",
    )
    for col in columns:
        table.add_column(col, justify="left" if col in ("task", "unit", "notes") else "right")
    for t in result.tasks:
        lat = t.latency
        table.add_row(
            f"{t.name} ({t.kind})",
            t.unit,
            f"{t.units_per_day:,.0f}",
            str(t.tokens.calls),
            _tokens(t.tokens.input),
            _tokens(t.tokens.cached),
            _tokens(t.tokens.cache_write),
            _tokens(t.tokens.output),
            _per_unit(t.usd_per_unit),
            _usd(t.usd_per_month),
            "—" if lat is None else f"{lat.ttft_ms:,.0f}",
            "—" if lat is None or lat.e2e_ms is None else f"{lat.e2e_ms:,.0f}",
            _notes(t),
        )
    table.add_row("total", "", "", "", "", "", "", "", "", _usd(result.usd_per_month), "", "", "")
    console.print(table)
    latencies = {t.latency.source for t in result.tasks if t.latency is not None}
    for source in sorted(latencies):
        console.print(f"latency: {source} (per call)", highlight=False)

    levers = Table(title=f"levers (seed 001), at {result.units_per_day:,.0f} units/day")
    for col in ("lever", "setting", "$/month", "Δ $/month", "Δ %"):
        levers.add_column(col, justify="left" if col in ("lever", "setting") else "right")
    levers.add_row("current", "", _usd(result.usd_per_month), "", "")
    for e in result.levers:
        levers.add_row(
            e.lever,
            e.setting,
            _usd(e.usd_per_month),
            _signed(e.delta_usd_per_month),
            ("−" if e.delta_pct < 0 else "+") + f"{abs(e.delta_pct):.1f} %",
        )
    console.print(levers)
    for note in result.assumptions:
        console.print(f"assumes: {note}", highlight=False, soft_wrap=True)


def cost_cmd(
    workload: Annotated[Path, typer.Argument(help="Workload YAML (see examples/cost-*.yaml).")],
    as_json: JsonFlag = False,
) -> None:
    """Cost and latency per task of a workload, and the $/month effect of each seed-001 lever."""
    with user_errors():
        result = cost_workload(workload)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    _render(result)


def register(app: typer.Typer) -> None:
    app.command("cost")(cost_cmd)
