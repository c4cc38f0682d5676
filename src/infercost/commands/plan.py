"""`infercost plan WORKLOAD.yaml`: the cheapest deployment that meets the SLOs of a workload;
`infercost plans list|show|compare`: plans kept in the local store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.table import Table

from infercost.commands.base import JsonFlag, console, errors, print_json, user_errors
from infercost.errors import InfercostError
from infercost.ingest import DEFAULT_STORE
from infercost.plan.executor import EXECUTORS

StoreOption = Annotated[
    Path, typer.Option("--store", help="DuckDB file of the local store (created if missing).")
]


def compact(c: Any) -> str:
    """'2× gh200 tp2 pp1 fp8/fp8 disagg' — a deployment in a table cell."""
    ep = f" ep{c.ep}" if c.ep > 1 else ""
    mode = " disagg" if c.mode == "disaggregated" else ""
    return f"{c.chips_per_replica}× {c.hardware} tp{c.tp} pp{c.pp}{ep} {c.weights}/{c.kv}{mode}"


def _money(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.2f}"


def candidates_table(result: Any) -> Table:
    table = Table(
        title=f"plan — {result.name}: {result.model} at {result.load_rps:g} req/s, {result.targets}"
    )
    for name, justify in (
        ("#", "right"),
        ("replica layout", "left"),
        ("replicas", "right"),
        ("$/hour", "right"),
        ("$/Mtok out", "right"),
        ("p99 TTFT ms", "right"),
        ("p99 TPOT ms", "right"),
        ("headroom", "right"),
        ("limit", "left"),
        ("verdict", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for c in result.candidates:
        replicas = (
            f"{c.replicas} ({c.prefill_replicas}P+{c.decode_replicas}D)"
            if c.mode == "disaggregated"
            else str(c.replicas)
        )
        mark = "" if c.latency_source == "simulated" else "*"
        verdict = "winner" if c.status == "winner" else c.why_not
        table.add_row(
            str(c.rank),
            f"{compact(c)} seqs {c.max_num_seqs} chunk {c.chunk}",
            replicas,
            _money(c.usd_per_hour),
            f"{c.usd_per_mtok_output:.3f}",
            f"{c.ttft_ms_p99:.0f}{mark}",
            f"{c.tpot_ms_p99:.1f}{mark}",
            f"{c.headroom:.0%}",
            c.bound,
            verdict,
        )
    return table


def whatif_table(result: Any) -> Table:
    table = Table(title="what if — vs the winner, both sides simulated or both screened")
    for name in (
        "change",
        "deployment",
        "replicas",
        "Δ $/hour",
        "Δ p99 TTFT ms",
        "Δ p99 TPOT ms",
        "basis",
    ):
        table.add_column(name)
    table.add_column("note")
    for w in result.whatifs:
        if not w.available:
            table.add_row(w.change, "—", "—", "—", "—", "—", "", w.note)
            continue
        table.add_row(
            w.change,
            w.deployment,
            str(w.replicas),
            f"{w.delta_usd_per_hour:+,.2f} ({w.delta_pct:+.0f} %)",
            f"{w.delta_ttft_ms:+.0f}",
            f"{w.delta_tpot_ms:+.1f}",
            w.basis,
            w.note,
        )
    return table


def _print_plan(p: Any, written: list[Path], plan_id: str | None) -> None:
    r = p.result
    console.print(candidates_table(r))
    console.print("* screened estimate (not simulated)", style="dim")
    b = r.best
    console.print(
        f"[bold]winner:[/] {b.replicas} × {b.layout} — ${b.usd_per_hour:,.2f}/hour, "
        f"${b.usd_per_mtok_output:.3f}/Mtok output; simulated p99 TTFT {b.ttft_ms_p99:.0f} ms, "
        f"TPOT {b.tpot_ms_p99:.1f} ms",
        highlight=False,
    )
    console.print(f"runner-up lost: {r.runner_up_lost}", highlight=False)
    console.print(
        f"screened {r.points_screened:,} points ({r.points_feasible:,} meet the SLO, "
        f"{r.deployments_feasible} deployments), {r.simulations} simulations"
        + ("" if r.exhaustive else "; NOT every cheaper screened deployment was simulated")
        + f"; {p.timings_s['total']:.1f} s",
        highlight=False,
    )
    console.print(whatif_table(r))
    console.print("[bold]launch (vLLM, then SGLang):[/]")
    for line in r.launch.shell_lines():
        console.print(line, highlight=False, soft_wrap=True)
    for note in r.launch.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(f"price: {r.price_sources.get(b.hardware, '')}", highlight=False)
    for path in written:
        console.print(f"wrote {path}")
    if plan_id:
        console.print(f"stored as plan {plan_id} (infercost plans show {plan_id})")


def write_outputs(p: Any, out: Path) -> list[Path]:
    from infercost.plan.store import write_parquet
    from infercost.report.plan_plot import write_plot

    out.mkdir(parents=True, exist_ok=True)
    result_path = out / "plan.json"
    result_path.write_text(json.dumps(p.to_dict(), indent=2, default=str) + "\n")
    launch = out / "launch.sh"
    launch.write_text("#!/bin/sh\n" + "\n".join(p.result.launch.shell_lines()) + "\n")
    return [result_path, launch, *write_plot(p.result, out), *write_parquet(p, out)]


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_cmd(
        workload: Annotated[
            Path,
            typer.Argument(help="Plan file: model, slo, workload, search (examples/plan-*.yaml)."),
        ],
        hardware: Annotated[
            str | None,
            typer.Option(
                help="Comma-separated hardware ids to search (default: the file's, or all priced)."
            ),
        ] = None,
        top: Annotated[
            int | None,
            typer.Option(help="Deployments simulated per round (default: the file's, 5)."),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                help="Write plan.json, launch.sh, pareto.html/png, candidates/sweep Parquet."
            ),
        ] = None,
        executor: Annotated[
            str, typer.Option(help=f"Where sweeps and simulations run: {' | '.join(EXECUTORS)}.")
        ] = "local",
        workers: Annotated[
            int | None, typer.Option(help="Parallel workers (default: CPUs).")
        ] = None,
        duration: Annotated[
            float | None,
            typer.Option(help="Simulated seconds per verification (default: the file's)."),
        ] = None,
        store: StoreOption = DEFAULT_STORE,
        save: Annotated[bool, typer.Option(help="Keep the plan in the local store.")] = True,
        calibration: Annotated[
            Path | None,
            typer.Option(
                help="Deployment profile from `infercost calibrate` (replaces the shipped)."
            ),
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Cheapest deployment meeting the SLOs: screen every layout, verify the best by simulation."""
        from infercost.plan import plan
        from infercost.plan.store import save_plan

        with user_errors():
            if top is not None and top < 1:
                raise InfercostError("top", top, "must be a whole number ≥ 1")
            ids = [h.strip() for h in hardware.split(",") if h.strip()] if hardware else None
            with Progress(
                "{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=errors,
                transient=True,
                disable=as_json,
            ) as bar:
                tasks: dict[str, TaskID] = {}

                def progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(stage, total=total)
                    bar.update(tasks[stage], completed=done, total=total)

                result = plan(
                    workload,
                    hardware=ids,
                    top=top,
                    executor=executor,
                    workers=workers,
                    verify_duration_s=duration,
                    on_progress=progress,
                    calibration=calibration,
                )
            written = write_outputs(result, out) if out else []
            plan_id = save_plan(result, store) if save else None
        if as_json:
            data = result.to_dict()
            data["id"] = plan_id
            data["timings_s"] = result.timings_s
            print_json(data)
            return
        _print_plan(result, written, plan_id)

    plans_app = typer.Typer(help="Plans kept in the local store.", no_args_is_help=True)
    app.add_typer(plans_app, name="plans")

    @plans_app.command("list")
    def plans_list(store: StoreOption = DEFAULT_STORE, as_json: JsonFlag = False) -> None:
        """Every stored plan, newest first, with its winner."""
        from infercost.plan.store import list_plans

        with user_errors():
            rows = list_plans(store)
        if as_json:
            print_json(rows)
            return
        table = Table(title=f"plans in {store}")
        for name in (
            "id",
            "name",
            "model",
            "winner",
            "replicas",
            "$/hour",
            "$/Mtok",
            "p99 TTFT",
            "p99 TPOT",
        ):
            table.add_column(name)
        for r in rows:
            table.add_row(
                r["id"],
                r["name"],
                r["model"],
                f"{r['chips_per_replica']}× {r['hardware']} tp {r['tp']} pp {r['pp']} {r['mode']}",
                str(r["replicas"]),
                _money(r["usd_per_hour"]),
                f"{r['usd_per_mtok_output']:.3f}",
                f"{r['ttft_ms_p99']:.0f}",
                f"{r['tpot_ms_p99']:.1f}",
            )
        console.print(table)

    @plans_app.command("show")
    def plans_show(
        plan_id: Annotated[str, typer.Argument(help="Plan id (or a unique start or end of it).")],
        store: StoreOption = DEFAULT_STORE,
        as_json: JsonFlag = False,
    ) -> None:
        """A stored plan: its ranked deployments, launch commands and what-ifs."""
        from infercost.plan import PlanResult
        from infercost.plan.store import load_result

        with user_errors():
            data = load_result(plan_id, store)
        if as_json:
            print_json(data)
            return
        result = PlanResult.model_validate({k: v for k, v in data.items() if k != "id"})
        console.print(f"plan {data['id']}")
        console.print(candidates_table(result))
        console.print(whatif_table(result))
        for line in result.launch.shell_lines():
            console.print(line, highlight=False, soft_wrap=True)

    @plans_app.command("compare")
    def plans_compare(
        a: Annotated[str, typer.Argument(help="First plan id.")],
        b: Annotated[str, typer.Argument(help="Second plan id.")],
        store: StoreOption = DEFAULT_STORE,
        as_json: JsonFlag = False,
    ) -> None:
        """Two stored plans side by side: workload, winner, and b − a."""
        from infercost.plan.store import compare_plans

        with user_errors():
            data = compare_plans(a, b, store)
        if as_json:
            print_json(data)
            return
        table = Table(title=f"plans {data['a']} (a) vs {data['b']} (b)")
        for name in ("field", "a", "b", "b − a"):
            table.add_column(name)
        for r in data["rows"]:
            delta = "" if r["delta"] is None else f"{r['delta']:+,.3g}"
            table.add_row(r["field"], str(r["a"]), str(r["b"]), delta)
        console.print(table)
