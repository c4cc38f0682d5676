"""Files of the planner's fleet, pack and route results: JSON, CSV, offline HTML (plotly.js inlined)
and PNG (matplotlib)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infercost.plan.fleet import FleetPlan
from infercost.plan.packing import PackResult
from infercost.plan.routing import RoutePlan

# --- fleet ----------------------------------------------------------------------------------------------


def _series(plan: FleetPlan) -> dict[str, list[int]]:
    """Ready replicas per interval by "hardware term" (only series that are ever non-zero)."""
    keys = sorted({(h, t) for i in plan.optimized.intervals for h, d in i.ready.items() for t in d})
    out = {}
    for h, t in keys:
        values = [i.ready.get(h, {}).get(t, 0) for i in plan.optimized.intervals]
        if any(values):
            out[f"{h} {t}"] = values
    return out


def _static_usd_per_interval(plan: FleetPlan) -> float | None:
    if plan.static_peak_usd_per_day is None:
        return None
    return plan.static_peak_usd_per_day / 24.0 * plan.interval_minutes / 60.0


def fleet_rows(plan: FleetPlan) -> list[dict[str, Any]]:
    """One row per interval: load, plan, autoscaler timeline, costs."""
    series = _series(plan)
    billed_keys = sorted(
        {(h, t) for i in plan.optimized.intervals for h, d in i.billed.items() for t in d}
    )
    rows = []
    auto = plan.autoscaled
    for k, i in enumerate(plan.optimized.intervals):
        row: dict[str, Any] = {
            "interval": i.index,
            "start_h": round(i.start_h, 6),
            "load_rps": i.load_rps,
            "capacity_rps": i.capacity_rps,
            "usd": i.usd,
            "static_peak_usd": _static_usd_per_interval(plan),
        }
        if auto is not None:
            row["autoscaled_need"] = auto.need[k]
            row["autoscaled_billed"] = auto.billed[k]
            row["autoscaled_ready"] = auto.ready[k]
        for name, values in series.items():
            row[f"ready {name}"] = values[k]
        for h, t in billed_keys:
            row[f"billed {h} {t}"] = i.billed.get(h, {}).get(t, 0)
        rows.append(row)
    return rows


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _write_all(
    out: Path,
    stem: str,
    table: str,
    data: dict[str, Any],
    rows: list[dict[str, Any]],
    html: Callable[[Path], None],
    png: Callable[[Path], None],
) -> list[Path]:
    """STEM.json, TABLE.csv, STEM.html and STEM.png under `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{table}.csv", out / f"{stem}.html", out / f"{stem}.png"]
    paths[0].write_text(json.dumps(data, indent=2) + "\n")
    _write_csv(rows, paths[1])
    html(paths[2])
    png(paths[3])
    return paths


def fleet_title(plan: FleetPlan) -> str:
    slo = ", ".join(f"{k.removesuffix('_ms').upper()} ≤ {v:g} ms" for k, v in plan.slo.items() if v)
    static = plan.static_peak_usd_per_day
    versus = "" if static is None else f" vs ${static:,.0f}/day static peak"
    return (
        f"{plan.name or plan.model}: {plan.model}, isl {plan.isl} / osl {plan.osl}, p99 {slo} — "
        f"${plan.optimized.usd_per_day:,.0f}/day{versus}"
    )


def _fleet_html(plan: FleetPlan, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    hours = [i.start_h for i in plan.optimized.intervals]
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        subplot_titles=("load (req/s)", "replicas serving", "$ per interval"),
        vertical_spacing=0.08,
    )
    fig.add_trace(go.Scatter(x=hours, y=plan.load_rps, name="load", line={"shape": "hv"}), 1, 1)
    fig.add_trace(
        go.Scatter(
            x=hours,
            y=[i.capacity_rps for i in plan.optimized.intervals],
            name="planned capacity",
            line={"dash": "dot", "shape": "hv"},
        ),
        1,
        1,
    )
    for name, values in _series(plan).items():
        fig.add_trace(go.Bar(x=hours, y=values, name=name), 2, 1)
    auto = plan.autoscaled
    if auto is not None:
        fig.add_trace(
            go.Scatter(
                x=hours,
                y=auto.ready,
                name=f"{auto.mode} autoscaler, {auto.hardware} (ready)",
                line={"shape": "hv"},
            ),
            2,
            1,
        )
    fig.add_trace(
        go.Scatter(
            x=hours,
            y=[i.usd for i in plan.optimized.intervals],
            name="optimized $",
            line={"shape": "hv"},
        ),
        3,
        1,
    )
    static = _static_usd_per_interval(plan)
    if static is not None:
        fig.add_trace(
            go.Scatter(
                x=hours, y=[static] * len(hours), name="static peak $", line={"dash": "dash"}
            ),
            3,
            1,
        )
    fig.update_layout(
        barmode="stack",
        title=fleet_title(plan),
        template="plotly_white",
        height=900,
        xaxis3_title="hour",
    )
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def _png_text(text: str) -> str:
    """Dollar signs are literal in a PNG title (matplotlib reads $…$ as math)."""
    return text.replace("$", r"\$")


def _fleet_png(plan: FleetPlan, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [i.start_h for i in plan.optimized.intervals]
    width = plan.interval_minutes / 60.0
    edges = [*hours, hours[-1] + width]

    def steps(values: list[float] | list[int]) -> list[float]:
        return [float(v) for v in values] + [float(values[-1])]

    fig, (ax_load, ax_rep, ax_usd) = plt.subplots(3, 1, figsize=(9, 9), dpi=110, sharex=True)
    ax_load.step(edges, steps(plan.load_rps), where="post", label="load")
    ax_load.step(
        edges,
        steps([i.capacity_rps for i in plan.optimized.intervals]),
        where="post",
        linestyle=":",
        label="planned capacity",
    )
    ax_load.set_ylabel("req/s")
    ax_load.legend(fontsize=7)
    bottom = [0] * len(hours)
    for name, values in _series(plan).items():
        ax_rep.bar(hours, values, width=width, bottom=bottom, align="edge", label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    auto = plan.autoscaled
    if auto is not None:
        ax_rep.step(
            edges,
            steps(auto.ready),
            where="post",
            color="black",
            label=f"{auto.mode} autoscaler ({auto.hardware}), ready",
        )
    ax_rep.set_ylabel("replicas serving")
    ax_rep.legend(fontsize=7)
    ax_usd.step(
        edges, steps([i.usd for i in plan.optimized.intervals]), where="post", label="optimized"
    )
    ax_usd.axhline(
        _static_usd_per_interval(plan), linestyle="--", color="grey", label="static peak"
    )
    ax_usd.set_ylabel("$ per interval")
    ax_usd.set_xlabel("hour")
    ax_usd.legend(fontsize=7)
    fig.suptitle(_png_text(fleet_title(plan)), fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_fleet(plan: FleetPlan, out: Path) -> list[Path]:
    """fleet.json, fleet_intervals.csv, fleet.html and fleet.png under `out` (created)."""
    return _write_all(
        out,
        "fleet",
        "fleet_intervals",
        plan.to_dict(),
        fleet_rows(plan),
        lambda p: _fleet_html(plan, p),
        lambda p: _fleet_png(plan, p),
    )


# --- pack -----------------------------------------------------------------------------------------------


def pack_rows(result: PackResult) -> list[dict[str, Any]]:
    """One row per slot of every mode, and one per dedicated replica set (baseline included)."""
    rows: list[dict[str, Any]] = []
    for d in result.baseline:
        rows.append(
            {
                "mode": "one model per GPU",
                "gpu": f"{d.gpus}× {d.hardware}",
                "tenant": d.tenant,
                "piece": f"{d.replicas} replica(s) × {d.chips_per_replica} GPU(s)",
                "share": float(d.gpus),
                "requests_per_s_capacity": d.requests_per_s_capacity,
            }
        )
    for m in result.modes:
        for s in m.slots:
            rows.append(
                {
                    "mode": m.mode,
                    "gpu": s.gpu,
                    "tenant": s.tenant,
                    "piece": s.label + ("" if s.start is None else f" @ slot {s.start}"),
                    "share": s.share,
                    "requests_per_s_capacity": s.requests_per_s_capacity,
                }
            )
        for d in m.dedicated:
            rows.append(
                {
                    "mode": m.mode,
                    "gpu": f"{d.gpus}× {d.hardware} (dedicated)",
                    "tenant": d.tenant,
                    "piece": f"{d.replicas} replica(s) × {d.chips_per_replica} GPU(s)",
                    "share": float(d.gpus),
                    "requests_per_s_capacity": d.requests_per_s_capacity,
                }
            )
    return rows


def _pack_modes(result: PackResult) -> tuple[list[str], list[int], list[float]]:
    names = ["one model per GPU"] + [m.mode for m in result.modes if m.feasible]
    gpus = [result.baseline_gpus] + [m.gpus for m in result.modes if m.feasible]
    usd = [result.baseline_usd_per_hour] + [m.usd_per_hour for m in result.modes if m.feasible]
    return names, gpus, usd


def _occupancy(result: PackResult) -> dict[str, dict[str, float]]:
    """GPU → tenant → share of that GPU, in the best mode."""
    best = next((m for m in result.modes if m.mode == result.best), None)
    out: dict[str, dict[str, float]] = {}
    if best is None:
        return out
    for s in best.slots:
        per = out.setdefault(s.gpu, {})
        per[s.tenant] = per.get(s.tenant, 0.0) + s.share
    return out


def pack_title(result: PackResult) -> str:
    best = result.best or "none"
    return (
        f"{result.name or 'pack'}: best {best}, {result.gpus_saved} GPU(s) saved vs one model per GPU "
        f"(${result.usd_per_hour_saved:,.2f}/h)"
    )


def _pack_html(result: PackResult, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names, gpus, _ = _pack_modes(result)
    occ = _occupancy(result)
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("GPUs by form", f"occupancy in the best form ({result.best})"),
    )
    fig.add_trace(go.Bar(x=names, y=gpus, name="GPUs", showlegend=False), 1, 1)
    tenants = sorted({t for per in occ.values() for t in per})
    for t in tenants:
        fig.add_trace(go.Bar(x=list(occ), y=[occ[g].get(t, 0.0) for g in occ], name=t), 1, 2)
    fig.update_layout(
        barmode="stack", title=pack_title(result), template="plotly_white", yaxis2_range=[0, 1]
    )
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def _pack_png(result: PackResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, gpus, _ = _pack_modes(result)
    occ = _occupancy(result)
    fig, (ax_g, ax_o) = plt.subplots(1, 2, figsize=(10, 4.5), dpi=110)
    ax_g.bar(names, gpus)
    ax_g.set_ylabel("GPUs")
    ax_g.set_title("GPUs by form", fontsize=9)
    tenants = sorted({t for per in occ.values() for t in per})
    bottom = [0.0] * len(occ)
    for t in tenants:
        values = [occ[g].get(t, 0.0) for g in occ]
        ax_o.bar(list(occ), values, bottom=bottom, label=t)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax_o.set_ylim(0, 1)
    ax_o.set_ylabel("share of the GPU")
    ax_o.set_title(f"occupancy in the best form ({result.best})", fontsize=9)
    if tenants:
        ax_o.legend(fontsize=7)
    fig.suptitle(_png_text(pack_title(result)), fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_pack(result: PackResult, out: Path) -> list[Path]:
    """pack.json, pack_slots.csv, pack.html and pack.png under `out` (created)."""
    return _write_all(
        out,
        "pack",
        "pack_slots",
        result.to_dict(),
        pack_rows(result),
        lambda p: _pack_html(result, p),
        lambda p: _pack_png(result, p),
    )


# --- route ----------------------------------------------------------------------------------------------


def route_rows(plan: RoutePlan) -> list[dict[str, Any]]:
    """One row per (class, model): its cost and latency, and which model the router chose."""
    rows = []
    for c in plan.classes:
        for o in c.options:
            rows.append(
                {
                    "class": c.name,
                    "share": c.share,
                    "thinking": o.thinking,
                    "model": o.model,
                    "chosen": o.model == c.chosen,
                    "acceptable": o.acceptable,
                    "usd_per_task": o.usd_per_task,
                    "ttft_ms": o.ttft_ms,
                    "e2e_ms": o.e2e_ms,
                    "note": o.note,
                }
            )
    return rows


def route_title(plan: RoutePlan) -> str:
    first, last = plan.policies[0], plan.policies[-1]
    return (
        f"{plan.name or 'routing'}: ${last.usd_per_task:.5f}/task routed vs "
        f"${first.usd_per_task:.5f}/task {first.name} ({last.savings_vs_first_pct:.0f} % less)"
    )


def _route_html(plan: RoutePlan, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = [p.name for p in plan.policies]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("$ per task", "mean E2E latency (ms)"))
    fig.add_trace(go.Bar(x=names, y=[p.usd_per_task for p in plan.policies], name="$/task"), 1, 1)
    fig.add_trace(
        go.Bar(x=names, y=[p.mean_e2e_ms or 0.0 for p in plan.policies], name="E2E ms"), 1, 2
    )
    fig.update_layout(title=route_title(plan), template="plotly_white", showlegend=False)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def _route_png(plan: RoutePlan, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{i + 1}" for i in range(len(plan.policies))]
    fig, (ax_c, ax_l) = plt.subplots(1, 2, figsize=(10, 4.5), dpi=110)
    ax_c.bar(labels, [p.usd_per_task for p in plan.policies])
    ax_c.set_ylabel("$ per task")
    ax_l.bar(labels, [p.mean_e2e_ms or 0.0 for p in plan.policies])
    ax_l.set_ylabel("mean E2E ms")
    legend = "\n".join(f"{i + 1}: {p.name}" for i, p in enumerate(plan.policies))
    fig.text(0.01, 0.01, legend, fontsize=7)
    fig.suptitle(_png_text(route_title(plan)), fontsize=9)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def write_route(plan: RoutePlan, out: Path) -> list[Path]:
    """route.json, route_classes.csv, route.html and route.png under `out` (created)."""
    return _write_all(
        out,
        "route",
        "route_classes",
        plan.to_dict(),
        route_rows(plan),
        lambda p: _route_html(plan, p),
        lambda p: _route_png(plan, p),
    )


__all__ = [
    "fleet_rows",
    "pack_rows",
    "route_rows",
    "write_fleet",
    "write_pack",
    "write_route",
]
