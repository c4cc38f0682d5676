"""`infercost simulate SCENARIO.yaml`: serve a workload request by request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from infercost.commands.base import JsonFlag, console, errors, print_json, user_errors
from infercost.report.simulation import write_simulation
from infercost.sim.scenario import load_scenario
from infercost.simulation import Simulation, simulate

HEADLINES = (
    ("requests", "requests", "{:.0f}"),
    ("completed", "completed", "{:.0f}"),
    ("rejected", "rejected", "{:.0f}"),
    ("TTFT p50 / p99 (ms)", ("ttft_ms_p50", "ttft_ms_p99"), "{:.1f}"),
    ("TPOT p50 / p99 (ms)", ("tpot_ms_p50", "tpot_ms_p99"), "{:.2f}"),
    ("ITL p50 / p99 (ms)", ("itl_ms_p50", "itl_ms_p99"), "{:.2f}"),
    ("E2E p50 / p99 (ms)", ("e2e_ms_p50", "e2e_ms_p99"), "{:.0f}"),
    ("queue p50 / p99 (ms)", ("queue_ms_p50", "queue_ms_p99"), "{:.1f}"),
    ("output tokens/s", "output_tps", "{:.0f}"),
    ("goodput (req/s within SLO)", "goodput_rps", "{:.2f}"),
    ("SLO attainment", "slo_attainment", "{:.1%}"),
    ("busy fraction", "busy_fraction", "{:.1%}"),
    ("MFU / MBU", ("mfu", "mbu"), "{:.1%}"),
    ("KV occupancy mean / max", ("kv_occupancy_mean", "kv_occupancy_max"), "{:.1%}"),
    ("preemptions", "preemptions", "{:.0f}"),
    ("prefix cache hit rate", "prefix_hit_rate", "{:.1%}"),
    ("$ per request", "usd_per_request", "{:.6f}"),
    ("$ per 1M output tokens", "usd_per_mtok_output", "{:.3f}"),
)


def summary_table(sim: Simulation) -> Table:
    table = Table(title=f"simulate — {sim.scenario.name}", show_header=False)
    for label, keys, fmt in HEADLINES:
        names = (keys,) if isinstance(keys, str) else keys
        values = [sim.summary.get(k) for k in names]
        text = " / ".join("n/a" if v is None else fmt.format(v) for v in values)
        table.add_row(label, text)
    return table


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        scenario: Annotated[
            Path, typer.Argument(help="Scenario YAML (see examples/simulate-*.yaml).")
        ],
        out: Annotated[
            Path | None,
            typer.Option(help="Write summary.json, requests/steps Parquet, report.html."),
        ] = None,
        seed: Annotated[int | None, typer.Option(help="Override the workload's seed.")] = None,
        trace: Annotated[
            bool, typer.Option(help="Also write a Chrome trace of the steps.")
        ] = False,
        calibration: Annotated[
            Path | None,
            typer.Option(help="Deployment calibration profile YAML (from `infercost calibrate`)."),
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Simulate serving a workload: continuous batching, paged KV, prefix caching, clusters."""
        with user_errors():
            spec = load_scenario(scenario)
            total = spec.workload.requests
            with Progress(
                "simulating",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=errors,
                transient=True,
                disable=as_json,
            ) as bar:
                task = bar.add_task("requests", total=total)
                sim = simulate(
                    spec,
                    seed=seed,
                    on_done=lambda n: bar.advance(task, n),
                    calibration=calibration,
                )
        written = write_simulation(sim, out, trace=trace) if out else []
        if as_json:
            print_json(sim.summary)
            return
        console.print(summary_table(sim))
        for source in sim.price_sources:
            console.print(f"price: {source}", highlight=False)
        for path in written:
            console.print(f"wrote {path}")
