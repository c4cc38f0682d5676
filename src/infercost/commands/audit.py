"""`infercost audit`: utilization, waste and quantified recommendations for a real deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infercost.audit import AuditReport, audit
from infercost.commands.base import JsonFlag, console, errors, print_json, user_errors
from infercost.commands.ingest import StoreOption, parse_duration_s
from infercost.ingest import DEFAULT_STORE
from infercost.report.audit import headline, write_audit


def summary_table(report: AuditReport) -> Table:
    table = Table(title="infercost audit", show_header=False)
    for label, value in headline(report):
        table.add_row(label, value)
    return table


def recommendations_table(report: AuditReport) -> Table:
    table = Table(title="recommendations (largest saving first; savings overlap)")
    for column in ("#", "what", "$ / month", "of spend", "why"):
        table.add_column(column)
    for i, r in enumerate(report.recommendations, start=1):
        usd = "n/a" if r.savings_usd_per_month is None else f"${r.savings_usd_per_month:,.0f}"
        if r.bound == "upper":
            usd = f"≤ {usd}"
        table.add_row(str(i), r.title, usd, f"{r.savings_share:.1%}", r.detail)
    return table


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit_cmd(
        files: Annotated[
            list[Path] | None,
            typer.Argument(
                help="nvidia-smi CSV, DCGM/vLLM/SGLang metrics, request logs (default: the store)."
            ),
        ] = None,
        scrape_url: Annotated[
            str | None, typer.Option("--scrape", help="Scrape this /metrics URL instead of files.")
        ] = None,
        duration: Annotated[
            str, typer.Option("--for", help="How long to scrape: 30s, 10m, 1h.")
        ] = "10m",
        interval: Annotated[str, typer.Option("--every", help="Time between scrapes.")] = "15s",
        store: StoreOption = DEFAULT_STORE,
        hardware: Annotated[
            str | None, typer.Option("--hardware", "-H", help="Catalog id or a spec YAML.")
        ] = None,
        model: Annotated[
            str | None, typer.Option(help="Catalog model id, or a config.json file/dir.")
        ] = None,
        price_per_hour: Annotated[
            float | None, typer.Option(help="USD per chip-hour (default: catalog price).")
        ] = None,
        engine: Annotated[str, typer.Option(help="Serving engine: vllm, sglang, …")] = "vllm",
        tp: Annotated[int | None, typer.Option(help="Tensor-parallel chips per replica.")] = None,
        pp: Annotated[int | None, typer.Option(help="Pipeline stages per replica.")] = None,
        weights: Annotated[str | None, typer.Option(help="Weight format served.")] = None,
        kv: Annotated[str | None, typer.Option(help="KV-cache format served.")] = None,
        gpus: Annotated[
            int | None, typer.Option(help="GPUs paid for (default: as many as seen at once).")
        ] = None,
        replicas: Annotated[
            int | None, typer.Option(help="Replicas (default: engine series seen at once).")
        ] = None,
        max_num_seqs: Annotated[
            int | None, typer.Option(help="The server's max_num_seqs (default: engine's).")
        ] = None,
        isl: Annotated[
            float | None, typer.Option(help="Mean prompt tokens (default: data).")
        ] = None,
        osl: Annotated[
            float | None, typer.Option(help="Mean output tokens (default: data).")
        ] = None,
        calibration: Annotated[
            Path | None, typer.Option(help="Calibration profile (infercost calibrate).")
        ] = None,
        tpot_slo_ms: Annotated[
            float | None, typer.Option(help="TPOT target for other GPU types (default: today's).")
        ] = None,
        candidates: Annotated[
            str | None, typer.Option(help="Comma-separated GPU ids to consider moving to.")
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(help="Write audit.json, timeline.csv, report.html and audit.png here."),
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Utilization over time, achieved vs attainable throughput, waste in $/month, KV headroom
        and ranked, quantified recommendations."""
        with user_errors():
            status = console.status("auditing", spinner="dots") if not as_json else _Silent()
            with status as shown:
                report = audit(
                    files or [],
                    store=store,
                    scrape_url=scrape_url,
                    scrape_for_s=parse_duration_s("--for", duration),
                    scrape_every_s=parse_duration_s("--every", interval),
                    hardware=hardware,
                    model=model,
                    price_per_hour=price_per_hour,
                    engine=engine,
                    tp=tp,
                    pp=pp,
                    weights=weights,
                    kv=kv,
                    gpus=gpus,
                    replicas=replicas,
                    max_num_seqs=max_num_seqs,
                    isl=isl,
                    osl=osl,
                    calibration=calibration,
                    tpot_slo_ms=tpot_slo_ms,
                    candidates=[c.strip() for c in candidates.split(",") if c.strip()]
                    if candidates
                    else None,
                    progress=(lambda what: shown.update(f"auditing: {what}")) if shown else None,
                )
        written = write_audit(report, out) if out else []
        if as_json:
            print_json(report.model_dump(mode="json"))
            return
        console.print(summary_table(report))
        if report.recommendations:
            console.print(recommendations_table(report))
        for kind, why in report.skipped.items():
            console.print(f"not recommended — {kind}: {why}", highlight=False)
        for note in report.notes:
            errors.print(f"note: {note}", highlight=False)
        for path in written:
            console.print(f"wrote {path}")


class _Silent:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
