"""Files of a latency-vs-cost frontier: JSON, CSV, offline HTML (plotly.js bundled) and PNG."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from infercost.econ.frontier import FastMode, Frontier

CSV_COLUMNS = (
    "batch",
    "tpot_ms",
    "tokens_per_s_per_user",
    "ttft_ms",
    "output_tps",
    "output_tps_per_chip",
    "usd_per_mtok_output",
    "pareto",
    "marks",
)


def title(front: Frontier) -> str:
    return (
        f"{front.model} on {front.chips}× {front.hardware} (tp {front.tp}, pp {front.pp}), "
        f"{front.weights} weights, isl {front.isl} / osl {front.osl}"
    )


def price_note(front: Frontier) -> str:
    p = front.price
    when = f", as of {p.as_of}" if p.as_of else (", undated" if p.source != "user input" else "")
    return f"${p.usd_per_chip_hour:.2f}/chip-hour ({p.source}{when})"


def frontier_json(front: Frontier, fast: FastMode | None = None) -> dict[str, Any]:
    data = front.to_dict()
    if fast is not None:
        data["fast_mode"] = fast.to_dict()
    return data


def write_csv(front: Frontier, path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for p in front.points:
            row = p.to_dict()
            row["marks"] = ";".join(p.marks)
            writer.writerow([row[c] for c in CSV_COLUMNS])


def frontier_figure(front: Frontier) -> Any:
    """Tokens/s per user against $/Mtok with the Pareto set and both floors (plotly)."""
    import plotly.graph_objects as go

    text = [
        f"batch {p.batch}" + (f" ({', '.join(p.marks)})" if p.marks else "") for p in front.points
    ]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[p.tokens_per_s_per_user for p in front.points],
            y=[p.usd_per_mtok_output for p in front.points],
            mode="lines+markers",
            name="swept batches",
            text=text,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[p.tokens_per_s_per_user for p in front.pareto],
            y=[p.usd_per_mtok_output for p in front.pareto],
            mode="markers",
            marker={"size": 10, "symbol": "circle-open"},
            name="Pareto set",
        )
    )
    fig.add_vline(
        x=front.max_tokens_per_s_per_user,
        line_dash="dash",
        annotation_text=f"latency floor {front.latency_floor_ms:.2f} ms",
    )
    fig.add_hline(
        y=front.cost_floor_usd_per_mtok,
        line_dash="dot",
        annotation_text=f"cost floor ${front.cost_floor_usd_per_mtok:.3f}/Mtok",
    )
    fig.update_layout(
        title=f"{title(front)}<br><sup>{price_note(front)}</sup>",
        xaxis_title="tokens/s per user (1 / TPOT)",
        yaxis_title="$ per 1M output tokens",
        yaxis_type="log",
        template="plotly_white",
    )
    return fig


def write_html(front: Frontier, path: Path) -> None:
    frontier_figure(front).write_html(str(path), include_plotlyjs=True, full_html=True)


def write_png(front: Frontier, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    xs = [p.tokens_per_s_per_user for p in front.points]
    ys = [p.usd_per_mtok_output for p in front.points]
    ax.plot(xs, ys, marker="o", label="swept batches")
    pareto = front.pareto
    ax.scatter(
        [p.tokens_per_s_per_user for p in pareto],
        [p.usd_per_mtok_output for p in pareto],
        s=80,
        facecolors="none",
        edgecolors="black",
        label="Pareto set",
    )
    for p in front.points:
        if p.marks:
            ax.annotate(
                f"B={p.batch}", (p.tokens_per_s_per_user, p.usd_per_mtok_output), fontsize=8
            )
    ax.axvline(front.max_tokens_per_s_per_user, linestyle="--", color="grey", label="latency floor")
    ax.axhline(front.cost_floor_usd_per_mtok, linestyle=":", color="grey", label="cost floor")
    ax.set_yscale("log")
    ax.set_xlabel("tokens/s per user (1 / TPOT)")
    ax.set_ylabel("$ per 1M output tokens")
    ax.set_title(title(front), fontsize=9)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, price_note(front), fontsize=6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_frontier(front: Frontier, out: Path, fast: FastMode | None = None) -> list[Path]:
    """frontier.json, frontier.csv, frontier.html and frontier.png under `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"frontier.{ext}" for ext in ("json", "csv", "html", "png")]
    paths[0].write_text(json.dumps(frontier_json(front, fast), indent=2) + "\n")
    write_csv(front, paths[1])
    write_html(front, paths[2])
    write_png(front, paths[3])
    return paths
