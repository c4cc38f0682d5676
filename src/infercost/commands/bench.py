"""`infercost bench URL --model NAME`: load a live OpenAI-compatible server level by level.

`infercost bench --import FILE` reads a vLLM `bench serve` or GuideLLM result file instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infercost.bench import BenchConfig, BenchResult, import_result, run_bench
from infercost.commands.base import JsonFlag, console, errors, print_json, progress_bar, user_errors
from infercost.errors import InfercostError

COLUMNS = (
    ("level", "level", "{:g}"),
    ("ok / failed", ("completed", "failed"), "{:.0f}"),
    ("TTFT p50 / p99 ms", ("ttft_ms_p50", "ttft_ms_p99"), "{:.1f}"),
    ("TPOT p50 / p99 ms", ("tpot_ms_p50", "tpot_ms_p99"), "{:.2f}"),
    ("ITL p50 / p99 ms", ("itl_ms_p50", "itl_ms_p99"), "{:.2f}"),
    ("E2E p50 / p99 ms", ("e2e_ms_p50", "e2e_ms_p99"), "{:.0f}"),
    ("req/s", "requests_per_s", "{:.2f}"),
    ("output tok/s", "output_tps", "{:.0f}"),
    ("error rate", "error_rate", "{:.1%}"),
)


def levels_table(result: BenchResult) -> Table:
    unit = {"concurrency": "concurrency", "rate": "req/s", "poisson": "req/s (Poisson)"}
    title = f"bench — {result.source}" + (f" · {result.model}" if result.model else "")
    table = Table(title=title)
    for label, _, _ in COLUMNS:
        table.add_column(unit.get(result.mode or "", "level") if label == "level" else label)
    for level in result.levels:
        row = level.model_dump()
        cells = []
        for _, keys, fmt in COLUMNS:
            names = (keys,) if isinstance(keys, str) else keys
            values = [row.get(k) for k in names]
            cells.append(" / ".join("n/a" if v is None else fmt.format(v) for v in values))
        table.add_row(*cells)
    return table


def _parse_levels(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InfercostError(
            "--levels", text, "give numbers separated by commas, e.g. 1,2,4,8"
        ) from None


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench_cmd(
        url: Annotated[
            str | None, typer.Argument(help="Server base URL, e.g. http://localhost:8000.")
        ] = None,
        model: Annotated[str | None, typer.Option(help="Model name the server serves.")] = None,
        endpoint: Annotated[str, typer.Option(help="completions or chat.")] = "completions",
        mode: Annotated[
            str, typer.Option(help="concurrency (closed loop), rate or poisson (open loop).")
        ] = "concurrency",
        levels: Annotated[
            str, typer.Option(help="Concurrencies, or rates in req/s, comma separated.")
        ] = "1,2,4,8",
        requests: Annotated[int, typer.Option(help="Requests per level.")] = 50,
        duration: Annotated[
            float | None, typer.Option(help="Seconds per level (instead of --requests).")
        ] = None,
        isl: Annotated[
            int, typer.Option(help="Prompt tokens per request (prefix included).")
        ] = 512,
        osl: Annotated[int, typer.Option(help="Output tokens per request (max_tokens).")] = 128,
        shared_prefix: Annotated[
            int, typer.Option(help="Prompt tokens every request shares verbatim.")
        ] = 0,
        turns: Annotated[int, typer.Option(help="Turns per conversation (context grows).")] = 1,
        seed: Annotated[int, typer.Option(help="Seed of prompts and Poisson arrivals.")] = 0,
        timeout: Annotated[float, typer.Option(help="Seconds before a request fails.")] = 120.0,
        max_error_rate: Annotated[
            float, typer.Option(help="Stop the sweep above this share of failed requests.")
        ] = 0.1,
        ignore_eos: Annotated[
            bool, typer.Option(help="Send vLLM's ignore_eos so answers reach --osl.")
        ] = False,
        import_file: Annotated[
            Path | None,
            typer.Option("--import", help="Read a vLLM bench serve or GuideLLM result JSON."),
        ] = None,
        out: Annotated[Path | None, typer.Option(help="Write the results JSON here.")] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Measure TTFT, TPOT, ITL, E2E and throughput of a live server, stopping at saturation."""
        with user_errors():
            if import_file is not None:
                if url is not None:
                    raise InfercostError("URL", url, "give a URL or --import FILE, not both")
                result = import_result(import_file)
            else:
                if url is None:
                    raise InfercostError("URL", None, "give the server URL (or --import FILE)")
                if model is None:
                    raise InfercostError("--model", None, "name the model the server serves")
                config = BenchConfig.model_validate(
                    {
                        "url": url,
                        "model": model,
                        "endpoint": endpoint,
                        "mode": mode,
                        "levels": _parse_levels(levels),
                        "requests_per_level": requests,
                        "duration_per_level_s": duration,
                        "prompt_tokens": isl,
                        "output_tokens": osl,
                        "shared_prefix_tokens": shared_prefix,
                        "turns": turns,
                        "seed": seed,
                        "timeout_s": timeout,
                        "max_error_rate": max_error_rate,
                        "ignore_eos": ignore_eos,
                    }
                )
                total = len(config.levels) * config.requests_per_level
                label = f"{config.mode} sweep" + (" (timed levels)" if duration else "")
                with progress_bar(total, label, quiet=as_json or duration is not None) as advance:
                    result = run_bench(config, on_request=advance)
        if out is not None:
            out.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
        if as_json:
            print_json(result.to_json())
            return
        console.print(levels_table(result))
        for level in result.levels:
            if level.failure_reasons:
                reasons = ", ".join(f"{k} ×{v}" for k, v in level.failure_reasons.items())
                errors.print(f"level {level.level}: failures {reasons}", highlight=False)
        if result.stopped_reason:
            console.print(f"stopped: {result.stopped_reason}", highlight=False)
        if out is not None:
            console.print(f"wrote {out}")
