"""Files of an audit: audit.json, timeline.csv, report.html (plotly.js inline, offline) and audit.png.

The page holds the headline figures, utilization, throughput (achieved against attainable), requests
and KV usage over time, the ranked recommendations with their savings, and the notes.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from infercost.audit import AuditReport

PANELS = (
    ("utilization", "GPU utilization / KV usage (0–1)"),
    ("throughput", "output tokens/s"),
    ("requests", "requests running / waiting / in flight"),
    ("savings", "recommendations: $ per month saved"),
)


def _times(report: AuditReport) -> list[datetime]:
    return [datetime.fromtimestamp(t or 0.0, tz=UTC) for t in report.timeline["time_s"]]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _num(x: float | None, fmt: str = "{:,.0f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def headline(report: AuditReport) -> list[tuple[str, str]]:
    """The figures a reader wants first, as (label, value) rows (shared with the terminal view)."""
    u, t, k, m = report.utilization, report.throughput, report.kv, report.money
    window = (
        f"{report.start:%Y-%m-%d %H:%M} → {report.end:%Y-%m-%d %H:%M} UTC "
        f"({report.duration_s / 3600:.1f} h)"
        if report.start and report.end
        else "n/a"
    )
    return [
        ("window", window),
        ("deployment", f"{report.model or '?'} on {report.hardware or '?'}"),
        (
            "GPUs / replicas",
            f"{u.gpus} / {u.replicas} ({u.chips_per_replica} chip(s) per replica)",
        ),
        ("utilization from", u.source or "n/a"),
        ("idle share", _pct(u.idle_share)),
        ("underused share", _pct(u.underused_share)),
        ("busy share", _pct(u.busy_share)),
        ("mean utilization", _pct(u.mean_utilization)),
        (
            "mean prompt / output tokens",
            f"{_num(t.isl)} / {_num(t.osl)}" + (f" ({t.lengths_source})" if t.lengths_source else ""),
        ),
        ("achieved output tokens/s (mean / p95)", f"{_num(t.achieved_output_tps)} / {_num(t.achieved_output_tps_p95)}"),
        (
            "attainable output tokens/s",
            f"{_num(t.attainable_output_tps)} ({_num(t.attainable_output_tps_per_replica)} per "
            f"replica at batch {t.batch if t.batch is not None else 'n/a'})",
        ),
        ("capacity utilization", _pct(t.capacity_utilization)),
        ("replicas the p95 load needs", _num(t.needed_replicas, "{:.2f}")),
        ("KV usage mean / p95 / max", f"{_pct(k.usage_mean)} / {_pct(k.usage_p95)} / {_pct(k.usage_max)}"),
        ("KV headroom (1 − p95)", _pct(k.headroom)),
        ("peak running / waiting", f"{_num(k.peak_running)} / {_num(k.peak_waiting)}"),
        ("preemptions", _num(k.preemptions)),
        ("spend per month", _num(m.spend_usd_per_month, "${:,.0f}")),
        ("idle time per month", _num(m.idle_usd_per_month, "${:,.0f}")),
        (
            "wasted per month",
            _num(m.wasted_usd_per_month, "${:,.0f}")
            + (f" ({m.waste_basis})" if m.waste_basis else ""),
        ),
        ("$ per 1M output tokens (observed)", _num(m.usd_per_mtok_output_observed, "${:,.3f}")),
        ("price", f"{_num(m.usd_per_chip_hour, '${:.2f}')}/chip-hour ({m.price_source or 'none'})"),
    ]  # fmt: skip


def timeline_frame(report: AuditReport) -> pl.DataFrame:
    cols: dict[str, Any] = {"time": _times(report)}
    for name, values in report.timeline.items():
        if name != "time_s":
            cols[name] = values
    return pl.DataFrame(cols)


def audit_figure(report: AuditReport) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    line = report.timeline
    x = _times(report)
    fig = make_subplots(rows=2, cols=2, subplot_titles=[title for _, title in PANELS])
    for name, label in (("gpu_utilization", "GPU utilization"), ("kv_usage", "KV usage")):
        if name in line:
            fig.add_trace(go.Scatter(x=x, y=line[name], name=label, mode="lines"), row=1, col=1)
    if "output_tps" in line:
        fig.add_trace(
            go.Scatter(x=x, y=line["output_tps"], name="achieved tok/s", mode="lines"), row=1, col=2
        )
    attainable = report.throughput.attainable_output_tps
    if attainable:
        fig.add_trace(
            go.Scatter(
                x=[x[0], x[-1]],
                y=[attainable, attainable],
                name="attainable (model)",
                mode="lines",
                line={"dash": "dash"},
            ),
            row=1,
            col=2,
        )
    for name in ("running", "waiting", "in_flight"):
        if name in line:
            fig.add_trace(go.Scatter(x=x, y=line[name], name=name, mode="lines"), row=2, col=1)
    recs = report.recommendations
    if recs:
        fig.add_trace(
            go.Bar(
                x=[r.savings_usd_per_month or 0.0 for r in recs][::-1],
                y=[r.title for r in recs][::-1],
                orientation="h",
                name="$ / month",
                text=[r.bound for r in recs][::-1],
            ),
            row=2,
            col=2,
        )
    fig.update_layout(height=820, template="plotly_white", title="infercost audit")
    return fig


def html_report(report: AuditReport) -> str:
    """One self-contained page: plotly.js inline, nothing fetched."""
    body = audit_figure(report).to_html(full_html=False, include_plotlyjs=True)
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in headline(report)
    )
    recs = "".join(
        "<tr>"
        f"<td>{i}</td><td>{html.escape(r.title)}</td>"
        f"<td>{_num(r.savings_usd_per_month, '${:,.0f}')}</td><td>{r.savings_share:.1%}</td>"
        f"<td>{r.bound}</td><td>{html.escape(r.detail)}</td>"
        f"<td>{html.escape('; '.join(r.assumptions))}</td></tr>"
        for i, r in enumerate(report.recommendations, start=1)
    )
    skipped = "".join(
        f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in report.skipped.items()
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    files = "".join(
        f"<li>{html.escape(f.path)} ({f.kind}, sha256 {f.sha256[:12]}…)</li>" for f in report.files
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>infercost audit</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}</style>"
        "</head><body><h1>infercost audit</h1>"
        f"<table>{rows}</table>{body}"
        "<h2>Recommendations (largest saving first; savings overlap and do not add)</h2>"
        "<table><tr><th>#</th><th>what</th><th>$ / month</th><th>of spend</th><th>bound</th>"
        f"<th>why</th><th>assumptions</th></tr>{recs}</table>"
        f"<h2>Not recommended</h2><ul>{skipped}</ul><h2>Notes</h2><ul>{notes or '<li>none</li>'}</ul>"
        f"<h2>Files</h2><ul>{files}</ul></body></html>"
    )


def write_png(report: AuditReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    line = report.timeline
    x = _times(report)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), dpi=110)
    ax = axes[0][0]
    for name in ("gpu_utilization", "kv_usage"):
        if name in line:
            ax.plot(x, [float("nan") if v is None else v for v in line[name]], label=name)
    ax.set_ylim(0, 1.05)
    ax = axes[0][1]
    if "output_tps" in line:
        ax.plot(x, [float("nan") if v is None else v for v in line["output_tps"]], label="achieved")
    if report.throughput.attainable_output_tps:
        ax.axhline(
            report.throughput.attainable_output_tps,
            linestyle="--",
            color="grey",
            label="attainable (model)",
        )
    ax = axes[1][0]
    for name in ("running", "waiting", "in_flight"):
        if name in line:
            ax.plot(x, [float("nan") if v is None else v for v in line[name]], label=name)
    ax = axes[1][1]
    recs = report.recommendations[::-1]
    if recs:
        ax.barh([r.title[:40] for r in recs], [r.savings_usd_per_month or 0.0 for r in recs])
    for (_, title), axis in zip(
        PANELS, (axes[0][0], axes[0][1], axes[1][0], axes[1][1]), strict=True
    ):
        axis.set_title(title, fontsize=9)
        if not axis.has_data():
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
        if axis is not axes[1][1] and axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
        axis.tick_params(labelsize=7)
    fig.autofmt_xdate()
    fig.suptitle(
        f"infercost audit — {report.model or '?'} on {report.hardware or '?'}", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_audit(report: AuditReport, out: Path) -> list[Path]:
    """audit.json, timeline.csv, report.html and audit.png under `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "audit.json", out / "timeline.csv", out / "report.html", out / "audit.png"]
    paths[0].write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    timeline_frame(report).write_csv(paths[1])
    paths[2].write_text(html_report(report), encoding="utf-8")
    write_png(report, paths[3])
    return paths
