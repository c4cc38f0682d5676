"""`infercost ingest FILES...` and `infercost scrape URL --for 10m --every 15s`: fill the local store."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infercost.commands.base import JsonFlag, console, errors, print_json, user_errors
from infercost.errors import InfercostError
from infercost.ingest import DEFAULT_STORE, KINDS, IngestReport, ingest, scrape

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SECONDS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

StoreOption = Annotated[
    Path, typer.Option("--store", help="DuckDB file of the local store (created if missing).")
]


def parse_duration_s(field: str, text: str) -> float:
    """'10m', '15s', '500ms', '1.5h' or plain seconds → seconds."""
    m = _DURATION.match(text)
    if m is None or float(m[1]) <= 0:
        raise InfercostError(field, text, "a positive duration like 500ms, 15s, 10m or 1h")
    return float(m[1]) * _SECONDS[m[2] or "s"]


def report_table(report: IngestReport) -> Table:
    table = Table(title=f"ingest → {report.store_path}")
    for column in ("file", "kind", "rows added", "from", "to", "notes"):
        table.add_column(column)
    for f in report.files:
        rows = ", ".join(f"{n} {t}" for t, n in f.rows.items() if n) or "0"
        kind = f.kind + (f" ({f.engine})" if f.engine else "")
        table.add_row(
            f.path,
            kind,
            rows if f.added else "0",
            "" if f.start_time is None else f.start_time.isoformat(sep=" "),
            "" if f.end_time is None else f.end_time.isoformat(sep=" "),
            "; ".join(f.notes),
        )
    return table


def _show(report: IngestReport, as_json: bool) -> None:
    if as_json:
        data = report.model_dump(mode="json")
        data["rows_added"] = report.rows_added
        print_json(data)
    else:
        console.print(report_table(report))


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_cmd(
        files: Annotated[
            list[Path],
            typer.Argument(help="nvidia-smi CSV, Prometheus text, OpenAI JSONL or LiteLLM logs."),
        ],
        store: StoreOption = DEFAULT_STORE,
        kind: Annotated[
            str, typer.Option(help=f"Reader: auto or one of {', '.join(KINDS)}.")
        ] = "auto",
        as_json: JsonFlag = False,
    ) -> None:
        """Add telemetry and request logs to the local store; a file already there adds nothing."""
        with user_errors():
            report = ingest(files, store, kind=kind)
        _show(report, as_json)

    @app.command("scrape")
    def scrape_cmd(
        url: Annotated[str, typer.Argument(help="A /metrics URL (DCGM exporter, vLLM, SGLang).")],
        duration: Annotated[
            str, typer.Option("--for", help="How long to scrape: 30s, 10m, 1h.")
        ] = "1m",
        interval: Annotated[str, typer.Option("--every", help="Time between scrapes.")] = "15s",
        store: StoreOption = DEFAULT_STORE,
        save: Annotated[
            Path | None,
            typer.Option(help="Where to keep the scraped text (default: next to the store)."),
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Scrape a Prometheus endpoint for a while, save the text and ingest it."""
        with user_errors():
            duration_s = parse_duration_s("--for", duration)
            interval_s = parse_duration_s("--every", interval)

            def tick(done: int, total: int) -> None:
                if not as_json:
                    errors.print(f"scrape {done}/{total}", highlight=False)

            report = scrape(
                url,
                store,
                duration_s=duration_s,
                interval_s=interval_s,
                save_to=save,
                on_scrape=tick,
            )
        _show(report, as_json)
