"""`infercost report KIND INPUT --out DIR`: a self-contained HTML report (plots inline, opens
offline) and a PNG of each plot, for estimate, frontier, simulate, plan and audit results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from infercost.audit import AuditReport
from infercost.commands.base import console, errors, user_errors
from infercost.commands.frontier import summary_lines
from infercost.commands.simulate import HEADLINES
from infercost.econ.frontier import FastMode, Frontier
from infercost.errors import InfercostError
from infercost.estimation import Estimate
from infercost.plan import PlanResult
from infercost.report import audit as audit_plot
from infercost.report import frontier_plot, plan_plot
from infercost.report.html import (
    BREAKDOWN_PARTS,
    Block,
    KeyValues,
    Notes,
    Plot,
    Report,
    Table,
    estimate_figure,
    estimate_title,
    number,
    simulation_figure,
    simulation_plot_data,
    write_estimate_png,
    write_report,
    write_simulation_png,
)

report_app = typer.Typer(
    help="Self-contained HTML reports (offline, plots inline) and PNG plots of results.",
    no_args_is_help=True,
)

OutOption = Annotated[
    Path | None, typer.Option(help="Folder to write into (default reports/KIND).")
]


def _read_json(path: Path, made_by: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InfercostError("input", str(path), f"cannot be read ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InfercostError("input", str(path), f"not JSON; write it with `{made_by}`") from None


def _validated(model: type[Any], data: Any, path: Path, made_by: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InfercostError(
            "input", str(path), f"not a result of `{made_by}` ({where}: {first['msg']})"
        ) from None


# --- reports ----------------------------------------------------------------------------------------


def estimate_report(est: Estimate) -> Report:
    ms = "{} ms".format
    headline = [
        ("TTFT", ms(number(est.ttft_ms))),
        ("TPOT", ms(number(est.tpot_ms))),
        ("output tokens/s", number(est.output_tps)),
        ("tokens/s per user", number(est.tokens_per_s_per_user)),
        ("$ / 1M output tokens", number(est.usd_per_mtok_output)),
        ("$ / 1M input tokens", number(est.usd_per_mtok_input)),
        ("$ / request", number(est.usd_per_request)),
        ("$ / hour", number(est.usd_per_hour)),
        ("latency floor", ms(number(est.latency_floor_ms))),
        ("critical batch", number(est.critical_batch)),
    ]
    decode, prefill = est.breakdown.model_dump(), est.prefill_breakdown.model_dump()
    causes = [*BREAKDOWN_PARTS, "total"]
    memory = [
        ("weights per chip", f"{number(est.weights_bytes_per_chip / 1e9)} GB"),
        ("KV room per chip", f"{number(est.kv_free_bytes_per_chip / 1e9)} GB"),
        ("KV bytes per token (whole model)", number(est.kv_bytes_per_token)),
        ("KV capacity (tokens)", number(est.kv_capacity_tokens)),
        ("max concurrent sequences", number(est.max_concurrent_sequences)),
        ("parameters total / active", f"{number(est.total_params)} / {number(est.active_params)}"),
    ]
    prov = est.provenance
    hw_source = prov.hardware_source
    sources = [
        f"model: {prov.model_source or '—'}",
        f"hardware: {hw_source if isinstance(hw_source, str) else '; '.join(hw_source)} "
        f"({prov.hardware_as_of or 'undated'})",
        f"price: {prov.price_source or 'none'} ({prov.price_as_of or 'undated'})",
        f"efficiency profile {prov.efficiency_version}; matmuls at {prov.compute_format}",
    ]
    if est.outside_calibrated_domain:
        sources.insert(0, f"outside the calibrated domain: {est.outside_calibrated_domain}")
    blocks: list[Block] = [
        KeyValues("Headline", headline),
        Table(
            "Time by cause (ms)",
            ["cause", "one decode step", "whole prefill"],
            [[c, number(decode[f"{c}_ms"]), number(prefill[f"{c}_ms"])] for c in causes],
        ),
        Plot("estimate", estimate_figure(est), lambda path: write_estimate_png(est, path)),
        KeyValues("Memory plan", memory),
    ]
    if est.intervals:
        blocks.append(
            KeyValues(
                "80 % prediction intervals",
                [(k, f"{number(v.low)} – {number(v.high)}") for k, v in est.intervals.items()],
            )
        )
    blocks.append(Notes("Sources", sources))
    return Report(
        f"estimate — {est.model} on {est.chips}× {est.hardware}", estimate_title(est), blocks
    )


def frontier_report(front: Frontier, fast: FastMode | None) -> Report:
    rows = [
        [
            str(p.batch),
            number(p.tpot_ms),
            number(p.tokens_per_s_per_user),
            number(p.ttft_ms),
            number(p.output_tps),
            number(p.usd_per_mtok_output),
            "✓" if p.pareto else "",
            ", ".join(p.marks),
        ]
        for p in front.points
    ]
    return Report(
        f"frontier — {front.model} on {front.chips}× {front.hardware}",
        frontier_plot.title(front),
        [
            Notes("Summary", summary_lines(front, fast)),
            Plot(
                "frontier",
                frontier_plot.frontier_figure(front),
                lambda path: frontier_plot.write_png(front, path),
            ),
            Table(
                "Every batch swept",
                [
                    "batch",
                    "TPOT ms",
                    "tok/s/user",
                    "TTFT ms",
                    "tok/s",
                    "$/Mtok out",
                    "Pareto",
                    "marks",
                ],
                rows,
            ),
        ],
    )


def simulation_report(
    name: str, summary: dict[str, Any], price_sources: list[str], plots: dict[str, Any]
) -> Report:
    rows = []
    for label, keys, fmt in HEADLINES:
        names = (keys,) if isinstance(keys, str) else keys
        values = [summary.get(k) for k in names]
        rows.append((label, " / ".join("n/a" if v is None else fmt.format(v) for v in values)))
    return Report(
        f"simulate — {name}",
        f"{summary.get('requests', 0)} requests",
        [
            KeyValues("Summary", rows),
            Plot(
                "simulation",
                simulation_figure(name, plots),
                lambda path: write_simulation_png(name, plots, path),
            ),
            Notes("Prices", [f"price: {s}" for s in price_sources]),
        ],
    )


PLAN_COLUMNS = (
    "#",
    "replica layout",
    "replicas",
    "$/hour",
    "$/Mtok out",
    "p99 TTFT ms",
    "p99 TPOT ms",
    "limit",
    "verdict",
)
AUDIT_COLUMNS = ("#", "what", "$ / month", "of spend", "why")


def plan_report(result: PlanResult) -> Report:
    b = result.best
    rows = [
        [
            str(c.rank),
            f"{c.layout} · seqs {c.max_num_seqs} · chunk {c.chunk}",
            str(c.replicas),
            number(c.usd_per_hour),
            number(c.usd_per_mtok_output),
            number(c.ttft_ms_p99) + ("" if c.latency_source == "simulated" else "*"),
            number(c.tpot_ms_p99) + ("" if c.latency_source == "simulated" else "*"),
            c.bound,
            "winner" if c.status == "winner" else c.why_not,
        ]
        for c in result.candidates
    ]
    whatifs = [
        [
            w.change,
            w.deployment if w.available else "nothing meets the SLO",
            number(w.usd_per_hour),
            number(w.delta_usd_per_hour),
            w.basis,
            w.note,
        ]
        for w in result.whatifs
    ]
    return Report(
        f"plan — {result.name}",
        f"{result.model} at {result.load_rps:g} req/s, {result.targets}",
        [
            KeyValues(
                "Winner",
                [
                    ("deployment", f"{b.layout} × {b.replicas}"),
                    ("$ / hour", number(b.usd_per_hour)),
                    ("$ / 1M output tokens", number(b.usd_per_mtok_output)),
                    (f"p99 TTFT ({b.latency_source})", f"{number(b.ttft_ms_p99)} ms"),
                    (f"p99 TPOT ({b.latency_source})", f"{number(b.tpot_ms_p99)} ms"),
                    (
                        "searched",
                        f"{result.points_screened} configurations, {result.simulations} simulations",
                    ),
                ],
            ),
            Table(
                "Ranked deployments (* screened, not simulated)",
                PLAN_COLUMNS,
                rows,
            ),
            Plot(
                "pareto",
                plan_plot.plan_figure(result),
                lambda path: plan_plot.write_png(result, path),
            ),
            Notes("Launch (vLLM, then SGLang)", result.launch.shell_lines() + result.launch.notes),
            Table(
                "What if", ["change", "deployment", "$/hour", "Δ $/hour", "basis", "note"], whatifs
            ),
            Notes("Prices", [f"{hw}: {src}" for hw, src in result.price_sources.items()]),
        ],
    )


def audit_report(report: AuditReport) -> Report:
    recs = [
        [
            str(i),
            r.title,
            ("≤ " if r.bound == "upper" else "") + number(r.savings_usd_per_month),
            f"{number(r.savings_share * 100, 3)} %",
            r.detail,
        ]
        for i, r in enumerate(report.recommendations, start=1)
    ]
    return Report(
        "audit",
        f"{report.model or '?'} on {report.hardware or '?'}",
        [
            KeyValues("Headline", audit_plot.headline(report)),
            Plot(
                "audit",
                audit_plot.audit_figure(report),
                lambda path: audit_plot.write_png(report, path),
            ),
            Table(
                "Recommendations ($ / month; savings overlap)",
                AUDIT_COLUMNS,
                recs,
            ),
            Notes("Not recommended", [f"{k}: {v}" for k, v in report.skipped.items()]),
            Notes("Notes", list(report.notes)),
            Notes("Files", [f"{f.path} ({f.kind}, sha256 {f.sha256[:12]}…)" for f in report.files]),
        ],
    )


def _written(paths: list[Path]) -> None:
    for path in paths:
        console.print(f"wrote {path}", highlight=False)


# --- commands ---------------------------------------------------------------------------------------


@report_app.command("estimate")
def estimate_cmd(
    result: Annotated[Path, typer.Argument(help="JSON from `infercost estimate ... --json`.")],
    out: OutOption = None,
) -> None:
    """Headline figures, time by cause, memory plan, intervals and sources of one estimate."""
    made_by = "infercost estimate ... --json > FILE"
    with user_errors():
        est = _validated(Estimate, _read_json(result, made_by), result, made_by)
        paths = write_report(estimate_report(est), out or Path("reports/estimate"))
    _written(paths)


@report_app.command("frontier")
def frontier_cmd(
    result: Annotated[Path, typer.Argument(help="JSON from `infercost frontier ... --json`.")],
    out: OutOption = None,
) -> None:
    """The latency–cost frontier: summary, plot and every batch swept."""
    made_by = "infercost frontier ... --json > FILE"
    with user_errors():
        data = _read_json(result, made_by)
        if not isinstance(data, dict):
            raise InfercostError("input", str(result), f"not a result of `{made_by}`")
        fast_data = data.pop("fast_mode", None)
        front = _validated(Frontier, data, result, made_by)
        fast = _validated(FastMode, fast_data, result, made_by) if fast_data else None
        paths = write_report(frontier_report(front, fast), out or Path("reports/frontier"))
    _written(paths)


@report_app.command("simulate")
def simulate_cmd(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (see examples/simulate-*.yaml).")],
    out: OutOption = None,
    seed: Annotated[int | None, typer.Option(help="Override the workload's seed.")] = None,
) -> None:
    """Run a scenario and report its summary, latency CDFs and throughput over time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from infercost.sim.scenario import load_scenario
    from infercost.simulation import simulate

    with user_errors():
        spec = load_scenario(scenario)
        with Progress(
            "simulating",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=errors,
            transient=True,
        ) as bar:
            task = bar.add_task("requests", total=spec.workload.requests)
            sim = simulate(spec, seed=seed, on_done=lambda n: bar.advance(task, n))
        plots = simulation_plot_data(sim.requests(), sim.timeline())
        report = simulation_report(spec.name, sim.summary, sim.price_sources, plots)
        paths = write_report(report, out or Path("reports/simulate"))
    _written(paths)


@report_app.command("plan")
def plan_cmd(
    result: Annotated[Path, typer.Argument(help="JSON from `infercost plan PLAN.yaml --json`.")],
    out: OutOption = None,
) -> None:
    """The winner, ranked deployments, Pareto plot, launch commands and what-ifs of a plan."""
    made_by = "infercost plan PLAN.yaml --json > FILE"
    with user_errors():
        planned = _validated(PlanResult, _read_json(result, made_by), result, made_by)
        paths = write_report(plan_report(planned), out or Path("reports/plan"))
    _written(paths)


@report_app.command("audit")
def audit_cmd(
    result: Annotated[Path, typer.Argument(help="JSON from `infercost audit FILES --json`.")],
    out: OutOption = None,
) -> None:
    """Utilization, throughput, waste and ranked recommendations of an audit."""
    made_by = "infercost audit FILES ... --json > FILE"
    with user_errors():
        audited = _validated(AuditReport, _read_json(result, made_by), result, made_by)
        paths = write_report(audit_report(audited), out or Path("reports/audit"))
    _written(paths)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
