"""Files of a simulation: summary JSON, per-request and per-step Parquet, Chrome trace, HTML report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from infercost.simulation import Simulation

TRACE_EVENT_LIMIT = 200_000  # a Chrome trace beyond this is too large to open


def _steps_frame(sim: Simulation) -> pl.DataFrame:
    s = sim.result.steps
    return pl.DataFrame(
        {
            "replica": list(s.replica),
            "end_s": list(s.end_s),
            "seconds": list(s.seconds),
            "decodes": list(s.decodes),
            "prefill_tokens": list(s.prefill_tokens),
            "tokens_out": list(s.tokens_out),
            "flops_per_chip": list(s.flops_per_chip),
            "bytes_per_chip": list(s.bytes_per_chip),
            "kv_occupancy": list(s.kv_occupancy),
            "waiting": list(s.waiting),
        }
    )


def requests_frame(sim: Simulation) -> pl.DataFrame:
    cols = sim.requests()
    return pl.DataFrame({k: (v.tolist() if v.dtype == object else v) for k, v in cols.items()})


def chrome_trace(sim: Simulation) -> dict[str, Any]:
    """Engine steps as complete events, one track per replica (chrome://tracing, Perfetto)."""
    s = sim.result.steps
    events = [
        {
            "name": "step",
            "ph": "X",
            "pid": int(s.replica[i]),
            "tid": 0,
            "ts": (s.end_s[i] - s.seconds[i]) * 1e6,
            "dur": s.seconds[i] * 1e6,
            "args": {"decodes": int(s.decodes[i]), "prefill_tokens": int(s.prefill_tokens[i])},
        }
        for i in range(min(len(s.seconds), TRACE_EVENT_LIMIT))
    ]
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def _cdf(values: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    ok = np.sort(values[np.isfinite(values)])
    return ok, np.arange(1, ok.size + 1) / max(ok.size, 1)


def html_report(sim: Simulation) -> str:
    """One self-contained page (plotly.js inline): latency CDFs, throughput, queue, KV occupancy."""
    cols = sim.requests()
    line = sim.timeline()
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
    for name, key in (("TTFT", "ttft_s"), ("TPOT", "tpot_s"), ("E2E", "e2e_s")):
        x, y = _cdf(cols[key] * 1e3)
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines"), row=1, col=1)
    fig.update_xaxes(type="log", row=1, col=1)
    t = line["time_s"]
    fig.add_trace(go.Scatter(x=t, y=line["output_tps"], name="output tok/s"), row=1, col=2)
    fig.add_trace(go.Scatter(x=t, y=line["waiting"], name="waiting"), row=2, col=1)
    fig.add_trace(go.Scatter(x=t, y=line["kv_occupancy"], name="KV occupancy"), row=2, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text="time (s)", row=2, col=col)
    fig.update_layout(height=800, title=f"infercost simulate — {sim.scenario.name}")
    rows = "".join(f"<tr><td>{k}</td><td>{_fmt(v)}</td></tr>" for k, v in sim.summary.items())
    prices = "".join(f"<li>{p}</li>" for p in sim.price_sources)
    body = fig.to_html(full_html=False, include_plotlyjs=True)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>infercost simulate — {sim.scenario.name}</title></head><body>"
        f"<h1>{sim.scenario.name}</h1>{body}<h2>Summary</h2><table>{rows}</table>"
        f"<h2>Prices</h2><ul>{prices}</ul></body></html>"
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def write_simulation(sim: Simulation, out: Path, *, trace: bool = False) -> list[Path]:
    """Write summary.json, requests.parquet, steps.parquet, report.html (and trace.json)."""
    out.mkdir(parents=True, exist_ok=True)
    written = [
        out / "summary.json",
        out / "requests.parquet",
        out / "steps.parquet",
        out / "report.html",
    ]
    written[0].write_text(json.dumps(sim.summary, indent=2, default=str) + "\n")
    requests_frame(sim).write_parquet(written[1])
    _steps_frame(sim).write_parquet(written[2])
    written[3].write_text(html_report(sim), encoding="utf-8")
    if trace:
        path = out / "trace.json"
        path.write_text(json.dumps(chrome_trace(sim)))
        written.append(path)
    return written
