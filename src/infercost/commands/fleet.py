"""`infercost fleet`, `infercost pack`, `infercost route`: fleets over time, multi-tenant packing, routing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from infercost.commands.base import JsonFlag, console, print_json, progress_bar, user_errors
from infercost.plan.fleet import FleetPlan, load_fleet, plan_fleet
from infercost.plan.packing import PackResult, load_pack, pack
from infercost.plan.routing import RoutePlan, route
from infercost.report.fleet_plot import write_fleet, write_pack, write_route

OutOption = Annotated[
    Path | None,
    typer.Option(help="Write JSON, CSV, an offline HTML plot and a PNG into this folder."),
]


def _usd(value: float) -> str:
    return f"${value:,.2f}" if abs(value) < 1000 else f"${value:,.0f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


# --- fleet ----------------------------------------------------------------------------------------------


def _render_fleet(plan: FleetPlan) -> None:
    slo = ", ".join(f"{k} ≤ {v:g}" for k, v in plan.slo.items() if v is not None)
    load = plan.load_rps
    console.print(
        f"[bold]{plan.name or 'fleet'}[/]: {plan.model}, isl {plan.isl} / osl {plan.osl}, p99 {slo}; "
        f"load {min(load):.1f}–{max(load):.1f} req/s (mean {sum(load) / len(load):.1f}) over "
        f"{plan.horizon_h:g} h in {plan.interval_minutes:g}-min intervals",
        highlight=False,
    )
    options = Table(title="GPU options (one replica at the SLO)")
    for col in ("hardware", "chips", "weights", "req/s", "p99 TPOT", "p99 TTFT", "bound"):
        options.add_column(
            col, justify="left" if col in ("hardware", "weights", "bound") else "right"
        )
    options.add_column("$/chip-hour (reserved · on-demand · spot)")
    for o in plan.options:
        c = o.capacity
        prices = " · ".join(
            _usd(o.prices[t].usd_per_chip_hour) if t in o.prices else "—"
            for t in ("reserved", "on-demand", "spot")
        )
        options.add_row(
            o.hardware,
            f"{o.chips} (tp {o.tp}, pp {o.pp})",
            o.weights,
            f"{c.requests_per_s:.2f}",
            f"{c.tpot_ms_p99:.1f} ms",
            f"{c.ttft_ms_p99:.0f} ms",
            c.limited_by,
            prices,
        )
    console.print(options)
    for name, why in plan.skipped.items():
        console.print(f"skipped {name}: {why}", highlight=False)

    costs = Table(title="cost per day")
    for col in ("provisioning", "hardware", "replicas", "$/day"):
        costs.add_column(col, justify="right" if col in ("replicas", "$/day") else "left")
    shown = set()
    for b in plan.baselines:
        if b.kind in shown:
            continue  # the cheapest option of each kind
        shown.add(b.kind)
        costs.add_row(b.kind, b.hardware, f"{b.replicas} all day", _usd(b.usd_per_day))
    a = plan.autoscaled
    if a is not None:
        short = f", short in {len(a.short_intervals)} interval(s)" if a.short_intervals else ""
        costs.add_row(
            f"{a.mode} autoscaler, on-demand",
            a.hardware,
            f"{min(a.billed)}–{max(a.billed)}{short}",
            _usd(a.usd_per_day),
        )
    opt = plan.optimized
    mix = " + ".join(f"{_usd(v)} {k}" for k, v in opt.usd_per_day_by_term.items() if v > 0)
    reserved = ", ".join(f"{n} {h}" for h, n in opt.reserved.items() if n)
    costs.add_row(
        "optimized mix (ILP)",
        reserved + " reserved" if reserved else "on-demand/spot only",
        mix,
        f"[bold]{_usd(opt.usd_per_day)}[/]",
    )
    console.print(costs)
    solver = f"solver: {opt.status}" + ("" if opt.mip_gap is None else f", gap {opt.mip_gap:.2%}")
    if plan.static_peak_usd_per_day is not None and plan.savings_usd_per_day is not None:
        console.print(
            f"saves {_usd(plan.savings_usd_per_day)}/day ({plan.savings_pct or 0.0:.1f} %) against "
            f"static peak provisioning ({_usd(plan.static_peak_usd_per_day)}/day); {solver}",
            highlight=False,
        )
    else:
        console.print(f"no on-demand or reserved price: no static-peak baseline; {solver}")
    if a is not None and a.unserved_share > 0:
        console.print(
            f"the {a.mode} autoscaler on {a.hardware} leaves {a.unserved_share:.1%} of requests "
            "above ready capacity while replicas boot",
            highlight=False,
        )

    timeline = Table(title="plan per interval (replicas serving)")
    keys = sorted({(h, t) for i in opt.intervals for h, d in i.ready.items() for t in d})
    for col in ("start h", "req/s", "capacity"):
        timeline.add_column(col, justify="right")
    for h, t in keys:
        timeline.add_column(f"{h}\n{t}", justify="right")
    timeline.add_column("$", justify="right")
    for i in opt.intervals:
        timeline.add_row(
            f"{i.start_h:g}",
            f"{i.load_rps:.1f}",
            f"{i.capacity_rps:.1f}",
            *(str(i.ready.get(h, {}).get(t, 0)) for h, t in keys),
            _usd(i.usd),
        )
    console.print(timeline)
    for o in plan.options:
        for q in o.prices.values():
            when = f", {q.as_of}" if q.as_of else (", undated" if q.source != "user input" else "")
            console.print(f"price {o.hardware} {q.term}: {q.source}{when}", highlight=False)
    for note in plan.assumptions:
        console.print(f"· {note}", highlight=False)


# --- pack -----------------------------------------------------------------------------------------------


def _render_pack(result: PackResult) -> None:
    console.print(f"[bold]{result.name or 'pack'}[/]", highlight=False)
    base = Table(title="one model per GPU (baseline)")
    for col in ("tenant", "hardware", "GPUs", "req/s capacity", "$/hour"):
        base.add_column(col, justify="left" if col in ("tenant", "hardware") else "right")
    for d in result.baseline:
        base.add_row(
            d.tenant,
            d.hardware,
            f"{d.gpus} ({d.replicas} × {d.chips_per_replica})",
            f"{d.requests_per_s_capacity:.2f}",
            _usd(d.usd_per_hour),
        )
    base.add_row("total", "", str(result.baseline_gpus), "", _usd(result.baseline_usd_per_hour))
    console.print(base)

    modes = Table(title="packed")
    for col in ("form", "GPUs", "$/hour", "GPUs saved", "$/hour saved", "solver"):
        modes.add_column(col, justify="left" if col in ("form", "solver") else "right")
    for m in result.modes:
        if not m.feasible:
            modes.add_row(m.mode, "—", "—", "—", "—", m.reason)
            continue
        by_type = ", ".join(f"{n} {h}" for h, n in m.gpus_by_hardware.items())
        modes.add_row(
            m.mode + (" ★" if m.mode == result.best else ""),
            f"{m.gpus} ({by_type})",
            _usd(m.usd_per_hour),
            str(m.gpus_saved),
            _usd(m.usd_per_hour_saved),
            m.solver_status,
        )
    console.print(modes)
    best = next((m for m in result.modes if m.mode == result.best), None)
    if best is not None:
        slots = Table(title=f"{best.mode}: who runs where")
        for col in ("GPU", "tenant", "piece", "share", "req/s capacity"):
            slots.add_column(col, justify="right" if col in ("share", "req/s capacity") else "left")
        for s in sorted(best.slots, key=lambda s: (s.gpu, s.start or 0)):
            where = "" if s.start is None else f" @ slot {s.start}"
            slots.add_row(
                s.gpu,
                s.tenant,
                s.label + where,
                f"{s.share:.2f}",
                f"{s.requests_per_s_capacity:.2f}",
            )
        for d in best.dedicated:
            slots.add_row(
                f"{d.gpus}× {d.hardware}",
                d.tenant,
                f"dedicated, {d.replicas} × {d.chips_per_replica} GPU(s)",
                "1.00",
                f"{d.requests_per_s_capacity:.2f}",
            )
        console.print(slots)
        console.print(
            f"best: {best.mode}, {result.gpus_saved} GPU(s) and {_usd(result.usd_per_hour_saved)}/hour "
            "saved against one model per GPU",
            highlight=False,
        )
    for p in result.prices:
        when = f", {p.as_of}" if p.as_of else (", undated" if p.source != "user input" else "")
        console.print(
            f"price {p.hardware}: {_usd(p.usd_per_hour)}/GPU-hour ({p.source}{when})",
            highlight=False,
        )
    for note in result.assumptions:
        console.print(f"· {note}", highlight=False)


# --- route ----------------------------------------------------------------------------------------------


def _render_route(plan: RoutePlan) -> None:
    console.print(
        f"[bold]{plan.name or 'routing'}[/]: {plan.tasks_per_day:,.0f} tasks/day, baseline model "
        f"{plan.baseline_model}",
        highlight=False,
    )
    classes = Table(title="routing per class")
    for col in ("class", "share", "thinking", "routed to", "$/task", "TTFT ms", "E2E ms"):
        classes.add_column(col, justify="left" if col in ("class", "routed to") else "right")
    classes.add_column(f"$/task on {plan.baseline_model}", justify="right")
    for c in plan.classes:
        classes.add_row(
            c.name,
            f"{c.share:.0%}",
            "yes" if c.thinking else "no",
            c.chosen,
            f"${c.usd_per_task:.6f}",
            _ms(c.ttft_ms),
            _ms(c.e2e_ms),
            f"${c.baseline_usd_per_task:.6f}",
        )
    console.print(classes)
    policies = Table(title="policies")
    for col in ("policy", "$/task", "$/day", "$/month", "mean TTFT ms", "mean E2E ms", "saved"):
        policies.add_column(col, justify="left" if col == "policy" else "right")
    for p in plan.policies:
        policies.add_row(
            p.name,
            f"${p.usd_per_task:.6f}",
            _usd(p.usd_per_day),
            _usd(p.usd_per_month),
            _ms(p.mean_ttft_ms),
            _ms(p.mean_e2e_ms),
            f"{p.savings_vs_first_pct:.1f} %",
        )
    console.print(policies)
    for name, source in plan.sources.items():
        console.print(f"{name}: {source}", highlight=False, soft_wrap=True)
    for note in plan.assumptions:
        console.print(f"· {note}", highlight=False)


# --- commands -------------------------------------------------------------------------------------------


def _show(result: Any, render: Callable[[Any], None], written: list[Path], as_json: bool) -> None:
    """JSON on stdout, or the rendered tables and the files written."""
    if as_json:
        print_json(result.to_dict())
        return
    render(result)
    for path in written:
        console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    @app.command("fleet")
    def fleet_cmd(
        file: Annotated[Path, typer.Argument(help="Fleet file (see examples/fleet-*.yaml).")],
        out: OutOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Replicas per interval for a daily load curve or a trace: autoscaling (delay, cool-down,
        minimum), a GPU mix and reserved / on-demand / spot purchases chosen by an ILP; cost per day
        against static peak provisioning."""
        with user_errors():
            spec, folder = load_fleet(file)
            with progress_bar(len(spec.gpus) + 2, "planning the fleet", quiet=as_json) as tick:
                plan = plan_fleet(spec, base_dir=folder, progress=tick)
            written = write_fleet(plan, out) if out else []
        _show(plan, _render_fleet, written, as_json)

    @app.command("pack")
    def pack_cmd(
        file: Annotated[Path, typer.Argument(help="Pack file (see examples/pack-*.yaml).")],
        out: OutOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Several models with their loads and SLOs on the fewest, cheapest GPUs: MIG slices, MPS
        shares or time-sharing, each an ILP; GPUs saved against one model per GPU."""
        with user_errors():
            spec = load_pack(file)
            with progress_bar(len(spec.modes) + 1, "packing", quiet=as_json) as tick:
                result = pack(spec, progress=tick)
            written = write_pack(result, out) if out else []
        _show(result, _render_pack, written, as_json)

    @app.command("route")
    def route_cmd(
        file: Annotated[Path, typer.Argument(help="Route file (see examples/route-*.yaml).")],
        out: OutOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Right-sizing and routing: each task class to the cheapest model its quality bar accepts,
        thinking only where required; $ per task and latency against the biggest model for all."""
        with user_errors():
            plan = route(file)
            written = write_route(plan, out) if out else []
        _show(plan, _render_route, written, as_json)
