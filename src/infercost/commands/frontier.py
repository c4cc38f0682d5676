"""`infercost frontier MODEL --hardware ID`: latency against cost over the decode batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infercost.commands.base import JsonFlag, console, print_json, user_errors
from infercost.econ.frontier import FastMode, Frontier, frontier, layout_frontier
from infercost.econ.quantization import QuantizationWhatIf, quantization_whatif
from infercost.errors import InfercostError
from infercost.report.frontier_plot import frontier_json, price_note, title, write_frontier


def frontier_table(front: Frontier) -> Table:
    table = Table(title=f"frontier — {title(front)}")
    for name, justify in (
        ("batch", "right"),
        ("TPOT ms", "right"),
        ("tok/s/user", "right"),
        ("TTFT ms", "right"),
        ("tok/s", "right"),
        ("tok/s/chip", "right"),
        ("$/Mtok out", "right"),
        ("Pareto", "center"),
        ("marks", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for p in front.points:
        if not (p.pareto or p.marks):
            continue
        table.add_row(
            str(p.batch),
            f"{p.tpot_ms:.2f}",
            f"{p.tokens_per_s_per_user:.1f}",
            f"{p.ttft_ms:.0f}",
            f"{p.output_tps:.0f}",
            f"{p.output_tps_per_chip:.0f}",
            f"{p.usd_per_mtok_output:.3f}",
            "✓" if p.pareto else "dominated",
            ", ".join(p.marks),
        )
    return table


def summary_lines(front: Frontier, fast: FastMode | None) -> list[str]:
    single, best = front.single_user, front.best
    crit = "none below 65,536" if front.critical_batch is None else f"{front.critical_batch:.0f}"
    lines = [
        f"price: {price_note(front)}; ${front.usd_per_hour:.2f}/hour for {front.chips} chips",
        f"latency floor: {front.latency_floor_ms:.2f} ms/token "
        f"(≤ {front.max_tokens_per_s_per_user:.0f} tok/s/user at any price)",
        f"cost floor: ${front.cost_floor_usd_per_mtok:.3f}/Mtok (asymptotic, memory ignored)",
        f"critical batch (compute-bound at peak): {crit}; memory holds "
        f"{front.max_concurrent_sequences} sequences at {front.isl + front.osl} tokens",
        f"single user ${single.usd_per_mtok_output:.2f}/Mtok vs best batch {best.batch} "
        f"${best.usd_per_mtok_output:.3f}/Mtok: {front.single_user_vs_best_cost_ratio:.1f}× "
        "the price per token",
    ]
    if fast is not None:
        if fast.reachable:
            lines.append(
                f"fast mode {fast.speed_requested:g}×: batch {fast.batch} gives "
                f"{fast.speed_multiple:.2f}× tok/s/user at {fast.price_multiple:.2f}× the price "
                f"(${fast.usd_per_mtok_output:.3f}/Mtok)"
            )
        else:
            lines.append(f"fast mode {fast.speed_requested:g}×: unreachable — {fast.reason}")
    for c in front.context_crossover:
        where = (
            f"at {c.context_tokens:,} tokens of context"
            if c.context_tokens is not None
            else f"not below {c.searched_up_to:,} tokens"
        )
        lines.append(f"batch {c.batch}: KV bytes per decode step overtake weight bytes {where}")
    return lines


def quantize_table(q: QuantizationWhatIf) -> Table:
    table = Table(
        title=f"quantize — {q.model} on {q.chips}× {q.hardware} (tp {q.tp}, pp {q.pp}), "
        f"kv {q.kv}, batch {q.batch}, isl {q.isl} / osl {q.osl}"
    )
    for name in (
        "weights",
        "compute",
        "GB/chip",
        "× bf16",
        "max seqs",
        "batch",
        "TPOT ms",
        "tok/s",
        "$/Mtok out",
        "quality loss",
    ):
        table.add_column(name, justify="left" if name in ("weights", "quality loss") else "right")
    for r in q.rows:
        loss = r.quality
        if loss.loss_pct is None:
            quality = "unknown"
        elif loss.source in ("baseline", "user input"):
            quality = f"{loss.loss_pct:.2f} % ({loss.source})"
        else:
            quality = f"{loss.loss_pct:.2f} % of {loss.benchmark} ({loss.as_of})"

        def fmt(value: float | None, spec: str) -> str:
            return "—" if value is None else format(value, spec)

        table.add_row(
            r.format,
            r.compute_format,
            f"{r.weights_bytes_per_chip / 1e9:.2f}",
            f"{r.weights_vs_baseline:.3f}",
            str(r.max_concurrent_sequences) if r.fits else "does not fit",
            fmt(r.batch, "d"),
            fmt(r.tpot_ms, ".2f"),
            fmt(r.output_tps, ".0f"),
            fmt(r.usd_per_mtok_output, ".3f"),
            quality,
        )
    return table


def parse_quality(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        fmt_id, sep, value = item.partition("=")
        try:
            out[fmt_id.strip().lower()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InfercostError("quality", item, "use FORMAT=LOSS_PCT, e.g. fp8=0.3")
    return out


def register(app: typer.Typer) -> None:
    @app.command("frontier")
    def frontier_cmd(
        model: Annotated[
            str, typer.Argument(help="Catalog model id, or a config.json file/directory.")
        ],
        hardware: Annotated[
            str, typer.Option("--hardware", "-H", help="Catalog id or a spec YAML.")
        ],
        chips: Annotated[
            int | None, typer.Option(help="Chips per replica (default: the fewest that fit).")
        ] = None,
        tp: Annotated[int | None, typer.Option(help="Tensor-parallel degree.")] = None,
        weights: Annotated[
            str | None, typer.Option(help="Weight format id (default: the model's).")
        ] = None,
        kv: Annotated[str | None, typer.Option(help="KV-cache format id.")] = None,
        isl: Annotated[int, typer.Option(help="Prompt tokens per request.")] = 1024,
        osl: Annotated[int, typer.Option(help="Output tokens per request.")] = 256,
        price_per_hour: Annotated[
            float | None,
            typer.Option(help="USD per chip-hour (default: the catalog's default price)."),
        ] = None,
        engine: Annotated[str | None, typer.Option(help="Serving engine profile.")] = None,
        sweep_chips: Annotated[
            str | None,
            typer.Option(
                help="Also sweep chips per replica, e.g. 1,2,4,8: the Pareto set across them."
            ),
        ] = None,
        speed: Annotated[
            float | None,
            typer.Option(help="Fast mode: tokens/s per user as a multiple of the cheapest point."),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(help="Write frontier.json, .csv, .html (offline) and .png here."),
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Tokens/s per user against $/Mtok for every batch that fits: floors, critical batch,
        single-user vs best-batch price, fast mode and the KV-over-weights context."""
        if sweep_chips:
            _layout_sweep(
                model, hardware, sweep_chips, weights, kv, isl, osl, price_per_hour, engine, as_json
            )
            return
        with user_errors():
            front = frontier(
                model,
                hardware,
                chips=chips,
                tp=tp,
                weights=weights,
                kv=kv,
                isl=isl,
                osl=osl,
                price_per_hour=price_per_hour,
                engine=engine,
            )
            fast = front.fast_mode(speed) if speed is not None else None
        written = write_frontier(front, out, fast) if out else []
        if as_json:
            print_json(frontier_json(front, fast))
            return
        console.print(frontier_table(front))
        for line in summary_lines(front, fast):
            console.print(line, highlight=False)
        for path in written:
            console.print(f"wrote {path}")

    @app.command("quantize")
    def quantize_cmd(
        model: Annotated[
            str, typer.Argument(help="Catalog model id, or a config.json file/directory.")
        ],
        hardware: Annotated[
            str, typer.Option("--hardware", "-H", help="Catalog id or a spec YAML.")
        ],
        chips: Annotated[int | None, typer.Option(help="Chips per replica.")] = None,
        tp: Annotated[int | None, typer.Option(help="Tensor-parallel degree.")] = None,
        formats: Annotated[
            str | None,
            typer.Option(help="Comma-separated weight formats (default bf16,fp8,int8,int4,fp4)."),
        ] = None,
        kv: Annotated[str | None, typer.Option(help="KV-cache format id.")] = None,
        batch: Annotated[int, typer.Option(help="Decode batch to time.")] = 64,
        isl: Annotated[int, typer.Option(help="Prompt tokens per request.")] = 1024,
        osl: Annotated[int, typer.Option(help="Output tokens per request.")] = 256,
        price_per_hour: Annotated[
            float | None,
            typer.Option(help="USD per chip-hour (default: the catalog's default price)."),
        ] = None,
        engine: Annotated[str | None, typer.Option(help="Serving engine profile.")] = None,
        quality: Annotated[
            list[str] | None,
            typer.Option(help="Your measured quality loss, FORMAT=PCT (repeatable)."),
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """What-if bf16 → fp8 / int8 / int4 / fp4: memory, concurrency, speed, $/Mtok, quality."""
        with user_errors():
            result = quantization_whatif(
                model,
                hardware,
                chips=chips,
                tp=tp,
                formats=[f.strip() for f in formats.split(",") if f.strip()] if formats else None,
                kv=kv,
                batch=batch,
                isl=isl,
                osl=osl,
                price_per_hour=price_per_hour,
                engine=engine,
                quality=parse_quality(quality or []),
            )
        if as_json:
            print_json(result.to_dict())
            return
        console.print(quantize_table(result))
        p = result.price
        when = (
            f", as of {p.as_of}" if p.as_of else (", undated" if p.source != "user input" else "")
        )
        console.print(
            f"price: ${p.usd_per_chip_hour:.2f}/chip-hour ({p.source}{when})", highlight=False
        )
        for r in result.rows:
            if r.quality.source not in (None, "baseline", "user input"):
                console.print(f"quality {r.format}: {r.quality.source}", highlight=False)
        for fmt_id, why in result.skipped.items():
            console.print(f"skipped {fmt_id}: {why}", highlight=False)


def _layout_sweep(
    model: str,
    hardware: str,
    sweep_chips: str,
    weights: str | None,
    kv: str | None,
    isl: int,
    osl: int,
    price_per_hour: float | None,
    engine: str | None,
    as_json: bool,
) -> None:
    with user_errors():
        try:
            counts = [int(c) for c in sweep_chips.split(",") if c.strip()]
        except ValueError:
            raise InfercostError(
                "sweep_chips", sweep_chips, "comma-separated whole numbers, e.g. 1,2,4,8"
            ) from None
        points, skipped = layout_frontier(
            model,
            hardware,
            counts,
            weights=weights,
            kv=kv,
            isl=isl,
            osl=osl,
            price_per_hour=price_per_hour,
            engine=engine,
        )
    pareto = [p for p in points if p.pareto]
    if as_json:
        print_json([p.model_dump(mode="json") for p in pareto])
        return
    table = Table(title=f"{model} on {hardware}: Pareto set over chips per replica and batch")
    for col in ("chips", "tp × pp", "batch", "tok/s/user", "$/Mtok output", "TPOT ms"):
        table.add_column(col, justify="right")
    for p in sorted(pareto, key=lambda p: p.point.tokens_per_s_per_user):
        table.add_row(
            str(p.chips),
            f"{p.tp} × {p.pp}",
            str(p.point.batch),
            f"{p.point.tokens_per_s_per_user:.1f}",
            f"{p.point.usd_per_mtok_output:.3f}",
            f"{p.point.tpot_ms:.2f}",
        )
    console.print(table)
    for n, why in skipped.items():
        console.print(f"{n} chips skipped: {why}", highlight=False)
