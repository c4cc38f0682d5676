"""Self-contained HTML reports (plotly.js inline once, no network) and a PNG of every plot.

A `Report` is a title and a list of blocks — key/value tables, tables, notes and plots — written by
`write_report` as one `report.html` that opens offline, plus `<plot>.png` (matplotlib) per plot.
The plot builders here are shared with the dashboard, which draws the same figures in the browser
(as are `frontier_plot.frontier_figure`, `plan_plot.plan_figure` and `audit.audit_figure`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from infercost.estimation import Estimate

CDF_POINTS = 500  # points per latency CDF: the curve is drawn from evenly spaced ranks
BREAKDOWN_PARTS = ("compute", "weights", "kv", "comm", "overhead")
PART_COLOURS = {  # one colour per cause in every plot
    "compute": "#4C78A8",
    "weights": "#F58518",
    "kv": "#54A24B",
    "comm": "#B279A2",
    "overhead": "#9D9D9D",
}


# --- blocks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyValues:
    title: str
    rows: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Notes:
    title: str
    lines: Sequence[str]


@dataclass(frozen=True)
class Plot:
    name: str  # file stem of its PNG
    figure: go.Figure
    png: Callable[[Path], None]  # writes the same plot with matplotlib


Block = KeyValues | Table | Notes | Plot


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str = ""
    blocks: Sequence[Block] = field(default_factory=list)


def number(value: float | int | None, digits: int = 4) -> str:
    """A number for people: thousands separated, `digits` significant digits, '—' for unknown."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    v = float(value)
    if not np.isfinite(v):
        return "—"
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    decimals = max(0, digits - 1 - int(np.floor(np.log10(abs(v)))))
    return f"{v:,.{decimals}f}"


def _block_html(block: Block) -> str:
    esc = html.escape
    if isinstance(block, KeyValues):
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in block.rows)
        return f"<section><h2>{esc(block.title)}</h2><table class='kv'>{rows}</table></section>"
    if isinstance(block, Table):
        head = "".join(f"<th>{esc(c)}</th>" for c in block.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows
        )
        return (
            f"<section><h2>{esc(block.title)}</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></section>"
        )
    if isinstance(block, Notes):
        items = "".join(f"<li>{esc(line)}</li>" for line in block.lines)
        return f"<section><h2>{esc(block.title)}</h2><ul>{items}</ul></section>"
    div = block.figure.to_html(
        full_html=False, include_plotlyjs=False, config={"displaylogo": False}
    )
    return f"<section class='plot'>{div}</section>"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .8em;border-bottom:1px solid #ddd;
text-align:left}td{font-variant-numeric:tabular-nums}table.kv th{font-weight:500;color:#555}
h1{margin-bottom:.2em}.sub{color:#666;margin-top:0}footer{color:#888;font-size:.85em;margin-top:3em}
"""


def render_html(report: Report) -> str:
    """One page; plotly.js is inlined once in the head, so it opens without a network."""
    from plotly.offline import get_plotlyjs

    esc = html.escape
    has_plots = any(isinstance(b, Plot) for b in report.blocks)
    script = f"<script>{get_plotlyjs()}</script>" if has_plots else ""
    body = "".join(_block_html(b) for b in report.blocks)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(report.title)}</title><style>{_STYLE}</style>{script}</head><body>"
        f"<h1>{esc(report.title)}</h1><p class='sub'>{esc(report.subtitle)}</p>{body}"
        "<footer>infercost report — works offline; plots are interactive (plotly.js inline).</footer>"
        "</body></html>"
    )


def write_report(report: Report, out: Path) -> list[Path]:
    """`report.html` and one PNG per plot under `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    page = out / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    written = [page]
    for block in report.blocks:
        if isinstance(block, Plot):
            path = out / f"{block.name}.png"
            block.png(path)
            written.append(path)
    return written


def figure_json(figure: go.Figure) -> str:
    """The figure as JSON for `Plotly.newPlot` in the browser (numpy arrays as lists)."""
    return str(figure.to_json())


# --- matplotlib ---------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- estimate ----------------------------------------------------------------------------------------


def estimate_title(est: Estimate) -> str:
    return (
        f"{est.model} on {est.chips}× {est.hardware} (tp {est.tp}, pp {est.pp}, ep {est.ep}), "
        f"{est.weights} weights, {est.kv} KV, batch {est.batch}, isl {est.isl} / osl {est.osl}"
    )


def _parts(est: Estimate) -> dict[str, tuple[float, float]]:
    """Per cause: (ms of one decode step, ms of the whole prefill)."""
    d, p = est.breakdown.model_dump(), est.prefill_breakdown.model_dump()
    return {k: (d[f"{k}_ms"], p[f"{k}_ms"]) for k in BREAKDOWN_PARTS}


def estimate_figure(est: Estimate) -> go.Figure:
    """Where the time goes: one decode step and the whole prefill, stacked by cause."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("one decode step (ms)", "whole prefill (ms)")
    )
    for name, (decode, prefill) in _parts(est).items():
        for col, value in ((1, decode), (2, prefill)):
            fig.add_trace(
                go.Bar(
                    x=[value],
                    y=[name],
                    orientation="h",
                    name=name,
                    marker_color=PART_COLOURS[name],
                    legendgroup=name,
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
    fig.update_layout(
        title=f"time by cause — {estimate_title(est)}",
        template="plotly_white",
        showlegend=False,
        height=360,
    )
    return fig


def write_estimate_png(est: Estimate, path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=120)
    parts = _parts(est)
    names = list(parts)
    for ax, i, label in ((axes[0], 0, "one decode step (ms)"), (axes[1], 1, "whole prefill (ms)")):
        ax.barh(names, [parts[n][i] for n in names], color=[PART_COLOURS[n] for n in names])
        ax.set_title(label, fontsize=9)
        ax.invert_yaxis()
    fig.suptitle(estimate_title(est), fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- frontier ----------------------------------------------------------------------------------------


# --- simulation --------------------------------------------------------------------------------------


def cdf_points(values: np.ndarray[Any, Any], points: int = CDF_POINTS) -> dict[str, list[float]]:
    """The empirical CDF of the finite values, thinned to at most `points` of its own steps."""
    ok = np.sort(values[np.isfinite(values)])
    if ok.size == 0:
        return {"x": [], "p": []}
    idx = np.unique(np.linspace(0, ok.size - 1, min(points, ok.size)).round().astype(int))
    return {"x": ok[idx].tolist(), "p": ((idx + 1) / ok.size).tolist()}


def simulation_plot_data(requests: Mapping[str, Any], line: Mapping[str, Any]) -> dict[str, Any]:
    """What the simulation plots need: latency CDFs in ms and the timeline, as plain lists."""
    return {
        "cdf_ms": {
            name: cdf_points(np.asarray(requests[key], dtype=float) * 1e3)
            for name, key in (("TTFT", "ttft_s"), ("TPOT", "tpot_s"), ("E2E", "e2e_s"))
        },
        "timeline": {k: np.asarray(v, dtype=float).tolist() for k, v in line.items()},
    }


def simulation_figure(name: str, data: Mapping[str, Any]) -> go.Figure:
    """Latency CDFs, output tokens/s, queue length and KV occupancy over time."""
    fig = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=(
            "latency CDF (ms)",
            "output tokens/s over time",
            "waiting requests over time",
            "KV cache occupancy over time",
        ),
    )
    for label, cdf in data["cdf_ms"].items():
        fig.add_trace(go.Scatter(x=cdf["x"], y=cdf["p"], name=label, mode="lines"), row=1, col=1)
    fig.update_xaxes(type="log", row=1, col=1)
    line = data["timeline"]
    t = line["time_s"]
    fig.add_trace(go.Scatter(x=t, y=line["output_tps"], name="output tok/s"), row=1, col=2)
    fig.add_trace(go.Scatter(x=t, y=line["waiting"], name="waiting"), row=2, col=1)
    fig.add_trace(go.Scatter(x=t, y=line["kv_occupancy"], name="KV occupancy"), row=2, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text="time (s)", row=2, col=col)
    fig.update_layout(height=720, title=f"simulate — {name}", template="plotly_white")
    return fig


def write_simulation_png(name: str, data: Mapping[str, Any], path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), dpi=110)
    for label, cdf in data["cdf_ms"].items():
        if cdf["x"]:
            axes[0][0].plot(cdf["x"], cdf["p"], label=label)
    axes[0][0].set_xscale("log")
    axes[0][0].set_title("latency CDF (ms)", fontsize=9)
    axes[0][0].legend(fontsize=8)
    line = data["timeline"]
    for ax, key, title in (
        (axes[0][1], "output_tps", "output tokens/s over time"),
        (axes[1][0], "waiting", "waiting requests over time"),
        (axes[1][1], "kv_occupancy", "KV cache occupancy over time"),
    ):
        ax.plot(line["time_s"], line[key])
        ax.set_title(title, fontsize=9)
    for ax in axes[1]:
        ax.set_xlabel("time (s)")
    fig.suptitle(f"simulate — {name}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- plan --------------------------------------------------------------------------------------------


# --- accuracy ----------------------------------------------------------------------------------------


def accuracy_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Predicted against measured, one colour per metric, with y = x and the ±25 % band."""
    fig = go.Figure()
    covered = [r for r in rows if r.get("predicted") and r.get("measured")]
    for metric in sorted({str(r["metric"]) for r in covered}):
        mine = [r for r in covered if r["metric"] == metric]
        fig.add_trace(
            go.Scatter(
                x=[r["measured"] for r in mine],
                y=[r["predicted"] for r in mine],
                mode="markers",
                name=metric,
                text=[f"{r['id']}: {r['model']} on {r['hardware']}" for r in mine],
            )
        )
    if covered:
        values = [float(r[k]) for r in covered for k in ("measured", "predicted")]
        lo, hi = min(values) / 1.5, max(values) * 1.5
        for factor, dash, label in (
            (1.0, "solid", "y = x"),
            (1.25, "dot", "±25 %"),
            (0.75, "dot", None),
        ):
            fig.add_trace(
                go.Scatter(
                    x=[lo, hi],
                    y=[lo * factor, hi * factor],
                    mode="lines",
                    line={"dash": dash, "color": "grey", "width": 1},
                    name=label or "",
                    showlegend=label is not None,
                    hoverinfo="skip",
                )
            )
    fig.update_layout(
        title="predicted vs measured (each metric in its own unit)",
        xaxis={"title": "measured", "type": "log"},
        yaxis={"title": "predicted", "type": "log"},
        template="plotly_white",
        height=560,
    )
    return fig


def json_dump(data: Any) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"
