"""The plan's cost-vs-latency plot: every feasible deployment, its Pareto set and the winner.

x: predicted p99 TPOT (ms), y: $/hour at the offered load (log). Pareto points are those no other
deployment beats on both (`econ.frontier.pareto_mask`, over 1/TPOT and $/hour). HTML is offline
(plotly.js inlined); PNG via matplotlib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infercost.plan import ParetoPoint, PlanResult


def _title(result: PlanResult) -> str:
    return (
        f"{result.name}: {result.model} at {result.load_rps:g} req/s, {result.targets} — "
        f"{len(result.pareto)} deployments meeting the SLO (screened)"
    )


def plan_figure(result: PlanResult) -> Any:
    """The deployments' predicted p99 TPOT against $/hour, the Pareto set and the winner."""
    import plotly.graph_objects as go

    fig = go.Figure()
    by_hw: dict[str, list[ParetoPoint]] = {}
    for p in result.pareto:
        by_hw.setdefault(p.hardware, []).append(p)
    for hw, points in sorted(by_hw.items()):
        fig.add_trace(
            go.Scatter(
                x=[p.tpot_ms_p99 for p in points],
                y=[p.usd_per_hour for p in points],
                mode="markers",
                name=hw,
                text=[
                    f"{p.deployment}<br>${p.usd_per_mtok_output:.3f}/Mtok, "
                    f"p99 TTFT {p.ttft_ms_p99:.0f} ms" + (" (simulated)" if p.simulated else "")
                    for p in points
                ],
                hovertemplate="%{text}<br>p99 TPOT %{x:.1f} ms, $%{y:.2f}/hour<extra></extra>",
            )
        )
    front = sorted((p for p in result.pareto if p.pareto), key=lambda p: p.tpot_ms_p99)
    fig.add_trace(
        go.Scatter(
            x=[p.tpot_ms_p99 for p in front],
            y=[p.usd_per_hour for p in front],
            mode="lines+markers",
            marker={"size": 11, "symbol": "circle-open", "color": "black"},
            line={"dash": "dot", "color": "black"},
            name="Pareto set",
        )
    )
    best = result.best
    fig.add_trace(
        go.Scatter(
            x=[best.predicted_tpot_ms_p99],
            y=[best.screened_usd_per_hour],
            mode="markers",
            marker={"size": 16, "symbol": "star", "color": "gold", "line": {"width": 1}},
            name=f"winner: {best.layout} ×{best.replicas}",
        )
    )
    fig.update_layout(
        title=f"{_title(result)}",
        xaxis_title="predicted p99 TPOT (ms)",
        yaxis_title="$ per hour at the offered load",
        yaxis_type="log",
        template="plotly_white",
    )
    return fig


def write_html(result: PlanResult, path: Path) -> None:
    plan_figure(result).write_html(str(path), include_plotlyjs=True, full_html=True)


def write_png(result: PlanResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    by_hw: dict[str, list[ParetoPoint]] = {}
    for p in result.pareto:
        by_hw.setdefault(p.hardware, []).append(p)
    for hw, points in sorted(by_hw.items()):
        ax.scatter(
            [p.tpot_ms_p99 for p in points],
            [p.usd_per_hour for p in points],
            s=14,
            alpha=0.7,
            label=hw,
        )
    front = sorted((p for p in result.pareto if p.pareto), key=lambda p: p.tpot_ms_p99)
    ax.plot(
        [p.tpot_ms_p99 for p in front],
        [p.usd_per_hour for p in front],
        linestyle=":",
        marker="o",
        markerfacecolor="none",
        color="black",
        label="Pareto set",
    )
    best = result.best
    ax.scatter(
        [best.predicted_tpot_ms_p99],
        [best.screened_usd_per_hour],
        s=220,
        marker="*",
        color="gold",
        edgecolors="black",
        zorder=5,
        label="winner",
    )
    ax.set_yscale("log")
    ax.set_xlabel("predicted p99 TPOT (ms)")
    ax.set_ylabel("$ per hour at the offered load")
    ax.set_title(_title(result), fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_plot(result: PlanResult, out: Path) -> list[Path]:
    """pareto.html and pareto.png under `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    html, png = out / "pareto.html", out / "pareto.png"
    write_html(result, html)
    write_png(result, png)
    return [html, png]
