"""The hardware comparison's JSON, HTML (plotly.js inline) and PNG (matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path

from infercost.econ.compare import Comparison


def write_html(result: Comparison, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = [e.hardware for e in result.entries]
    panels = _panels(result)
    sens = result.sensitivity or []
    rows = 2 if sens else 1
    titles = [t for t, _ in panels] + (["elasticity of $/Mtok to +10 %"] if sens else [])
    fig = make_subplots(
        rows=rows,
        cols=len(panels),
        subplot_titles=titles,
        specs=[[{}] * len(panels)] + ([[{"colspan": len(panels)}] + [None] * 3] if sens else []),
    )
    for i, (label, values) in enumerate(panels, start=1):
        fig.add_trace(go.Bar(x=names, y=values, name=label, showlegend=False), row=1, col=i)
    for s in sens:
        fig.add_trace(
            go.Bar(
                x=[el.resource for el in s.elasticities],
                y=[el.usd_per_mtok_output for el in s.elasticities],
                name=s.hardware,
            ),
            row=2,
            col=1,
        )
    workload = f"isl {result.isl} / osl {result.osl}"
    if result.tpot_slo_ms is not None:
        workload += f", TPOT ≤ {result.tpot_slo_ms:g} ms"
    fig.update_layout(
        title=f"{result.model} — {workload}<br><sup>{result.energy_basis}</sup>",
        template="plotly_white",
        barmode="group",
        height=450 * rows,
    )
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def _panels(result: Comparison) -> list[tuple[str, list[float]]]:
    return [
        ("$/Mtok output", [e.usd_per_mtok_output for e in result.entries]),
        ("tokens/s per chip", [e.output_tps_per_chip for e in result.entries]),
        ("tokens/J (TDP-based)", [e.tokens_per_joule or 0.0 for e in result.entries]),
        ("latency floor ms", [e.latency_floor_ms for e in result.entries]),
    ]


def write_png(result: Comparison, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [e.hardware for e in result.entries]
    panels = _panels(result)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), dpi=120)
    for ax, (label, values) in zip(axes, panels, strict=True):
        ax.bar(names, values)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.suptitle(f"{result.model} — isl {result.isl} / osl {result.osl}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_compare(result: Comparison, out: Path) -> list[Path]:
    """compare.json, compare.html (plotly.js inline, no CDN) and compare.png under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"compare.{ext}" for ext in ("json", "html", "png")]
    paths[0].write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    write_html(result, paths[1])
    write_png(result, paths[2])
    return paths
