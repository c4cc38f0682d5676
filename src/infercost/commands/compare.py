"""`infercost compare MODEL --hardware ID1,ID2,…`: hardware side by side for one model and workload."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from infercost.commands.base import JsonFlag, console, print_json, user_errors
from infercost.econ.compare import (
    CompareEntry,
    Comparison,
    OffloadFigure,
    compare,
    workload_point,
)
from infercost.errors import InfercostError
from infercost.report.compare_plot import write_compare
from infercost.specs.hardware import KVTier


def _fmt(value: float | None, spec: str, none: str = "—") -> str:
    return none if value is None else format(value, spec)


def _max_context(e: CompareEntry) -> str:
    text = f"{e.max_context_tokens:,}"
    if e.model_max_context is not None and e.max_context_tokens > e.model_max_context:
        text += f" (model {e.model_max_context:,})"
    return text


def _offload_rows(result: Comparison) -> list[tuple[str, list[str]]]:
    if not any(e.offload for e in result.entries):
        return []
    batch = result.entries[0].target_batch

    def cells(text: Callable[[OffloadFigure], str]) -> list[str]:
        return [text(e.offload) if e.offload else "—" for e in result.entries]

    return [
        (f"max context @ batch {batch}, offload", cells(lambda o: f"{o.max_context_tokens:,}")),
        (
            "  KV GB/chip by tier",
            cells(
                lambda o: ", ".join(f"{k} {v:,.0f}" for k, v in o.kv_gb_per_chip_by_tier.items())
            ),
        ),
        (
            "  TPOT ms there (all in HBM)",
            cells(lambda o: f"{o.tpot_ms:.1f} ({o.tpot_ms_all_in_hbm:.1f})"),
        ),
    ]


def compare_table(result: Comparison) -> Table:
    workload = f"isl {result.isl} / osl {result.osl}"
    if result.tpot_slo_ms is not None:
        workload += f", TPOT ≤ {result.tpot_slo_ms:g} ms"
    if result.batch is not None:
        workload += f", batch {result.batch}"
    table = Table(title=f"compare — {result.model}, {workload}")
    table.add_column("", justify="left")
    for e in result.entries:
        table.add_column(
            e.hardware + (" (hypothetical)" if e.hypothetical else ""), justify="right"
        )
    base = result.baseline
    rows: list[tuple[str, list[str]]] = [
        ("layout", [f"{e.chips}× tp{e.tp} pp{e.pp}, {e.weights}" for e in result.entries]),
        ("batch", [str(e.batch) + ("" if e.slo_met else " (SLO missed)") for e in result.entries]),
        ("TPOT ms", [f"{e.tpot_ms:.2f}" for e in result.entries]),
        ("TTFT ms (1 request)", [f"{e.ttft_ms:.0f}" for e in result.entries]),
        ("tok/s per chip", [f"{e.output_tps_per_chip:,.0f}" for e in result.entries]),
        ("$/Mtok output", [f"{e.usd_per_mtok_output:.3f}" for e in result.entries]),
        ("$/chip-hour", [f"{e.price.usd_per_chip_hour:.2f}" for e in result.entries]),
        (
            "tokens/J (TDP-based)",
            [_fmt(e.tokens_per_joule, ".2f", "TDP unknown") for e in result.entries],
        ),
        ("latency floor ms", [f"{e.latency_floor_ms:.2f}" for e in result.entries]),
        ("cost floor $/Mtok", [f"{e.cost_floor_usd_per_mtok:.3f}" for e in result.entries]),
        ("critical batch", [_fmt(e.critical_batch, ".0f", "none") for e in result.entries]),
        ("drain time ms", [_fmt(e.drain_time_ms, ".1f") for e in result.entries]),
        (
            f"max context @ batch {result.entries[0].target_batch}",
            [_max_context(e) for e in result.entries],
        ),
        *_offload_rows(result),
        ("bound by", [e.bound for e in result.entries]),
        (f"perf/$ vs {base}", [f"{r.perf_per_usd:.2f}×" for r in result.ratios]),
        (
            f"perf/W vs {base}",
            [
                ("—" if r.perf_per_watt is None else f"{r.perf_per_watt:.2f}×")
                for r in result.ratios
            ],
        ),
        (f"tok/s/chip vs {base}", [f"{r.tokens_per_s_per_chip:.2f}×" for r in result.ratios]),
        (f"tok/s/user vs {base}", [f"{r.tokens_per_s_per_user:.2f}×" for r in result.ratios]),
    ]
    for label, cells in rows:
        table.add_row(label, *cells)
    return table


def sensitivity_table(result: Comparison) -> Table:
    table = Table(
        title="sensitivity — elasticity to +10 % of each resource "
        "($/Mtok: layout and batch re-chosen; TPOT and latency floor: same layout and batch)"
    )
    for name in ("hardware", "resource", "$/Mtok", "TPOT", "latency floor", "re-chosen"):
        table.add_column(name, justify="left" if name in ("hardware", "resource") else "right")
    for s in result.sensitivity or []:
        for el in s.elasticities:
            mark = " ◀" if el.resource == s.most_valuable else ""
            table.add_row(
                s.hardware,
                el.resource + mark,
                f"{el.usd_per_mtok_output:+.2f}",
                f"{el.tpot:+.2f}",
                f"{el.latency_floor:+.2f}",
                f"{el.chips} chips, batch {el.batch}",
            )
    return table


def summary_lines(result: Comparison) -> list[str]:
    lines = []
    for e in result.entries:
        p = e.price
        when = (
            f", as of {p.as_of}" if p.as_of else (", undated" if p.source != "user input" else "")
        )
        lines.append(f"price {e.hardware}: ${p.usd_per_chip_hour:.2f}/chip-hour ({p.source}{when})")
    lines.append(f"tokens/J: {result.energy_basis}")
    lines.extend(f"assumption: {a}" for a in result.assumptions)
    for s in result.sensitivity or []:
        if s.most_valuable != "none":
            lines.append(f"{s.hardware}: +10 % {s.most_valuable} lowers $/Mtok most")
    return lines


def parse_prices(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        ref, sep, value = item.rpartition("=")
        try:
            price = float(value)
        except ValueError:
            sep = ""
        if not sep or not ref.strip():
            raise InfercostError("price_per_hour", item, "use ID=USD_PER_CHIP_HOUR, e.g. h200=3.5")
        out[ref.strip()] = price
    return out


def parse_tiers(text: str) -> list[KVTier]:
    tiers = []
    for item in text.split(","):
        name, *numbers = item.strip().split(":")
        try:
            capacity_gb, bw_gbps = (float(x) for x in numbers)
            tiers.append(KVTier(name=name, capacity_gb=capacity_gb, bw_gbps=bw_gbps))
        except (ValueError, ValidationError):
            raise InfercostError(
                "kv_offload", item, "use NAME:GB:GBPS with both numbers > 0, e.g. host-dram:512:50"
            ) from None
    return tiers


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        model: Annotated[
            str, typer.Argument(help="Catalog model id, or a config.json file/directory.")
        ],
        hardware: Annotated[
            str,
            typer.Option(
                "--hardware", "-H", help="Comma-separated catalog ids or spec YAML files."
            ),
        ],
        chips: Annotated[
            int | None,
            typer.Option(help="Chips per replica (default: search 1, 2, 4, … that fit)."),
        ] = None,
        batch: Annotated[
            int | None, typer.Option(help="Fix the decode batch (default: the cheapest).")
        ] = None,
        isl: Annotated[int, typer.Option(help="Prompt tokens per request.")] = 1024,
        osl: Annotated[int, typer.Option(help="Output tokens per request.")] = 256,
        tpot_slo_ms: Annotated[
            float | None, typer.Option(help="Most ms per output token allowed.")
        ] = None,
        workload: Annotated[
            Path | None,
            typer.Option(
                help="Workload or scenario YAML (simulate's schema): its mean lengths and "
                "tightest TPOT target replace --isl/--osl/--tpot-slo-ms."
            ),
        ] = None,
        price_per_hour: Annotated[
            list[str] | None,
            typer.Option(help="USD per chip-hour as ID=X (repeatable; default: the catalog's)."),
        ] = None,
        target_batch: Annotated[
            int | None, typer.Option(help="Sequences for the max-context figure (default 1).")
        ] = None,
        weights: Annotated[
            str | None, typer.Option(help="Weight format id (default: the model's).")
        ] = None,
        kv: Annotated[str | None, typer.Option(help="KV-cache format id.")] = None,
        engine: Annotated[str | None, typer.Option(help="Serving engine profile.")] = None,
        sensitivity: Annotated[
            bool,
            typer.Option(
                "--sensitivity", help="Elasticity of $/Mtok and TPOT to +10 % of each resource."
            ),
        ] = False,
        sram_kv: Annotated[
            bool,
            typer.Option(
                "--sram-kv",
                help="Assume KV is read from on-chip SRAM up to its size (needs sram_mb and "
                "sram_bw_gbps in the hardware spec).",
            ),
        ] = False,
        kv_offload: Annotated[
            str | None,
            typer.Option(
                help="KV offload tiers per chip for the long-context figure, in order: "
                "NAME:GB:GBPS[,…], e.g. host-dram:512:50,ssd:4000:6."
            ),
        ] = None,
        out: Annotated[
            Path | None, typer.Option(help="Write compare.json and compare.html (offline) here.")
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Best layout, tokens/s per chip, $/Mtok, tokens/J, floors, drain time, max context and the
        bounding resource for each hardware; ratios against the first."""
        with user_errors():
            if workload is not None:
                point = workload_point(workload)
                isl, osl = point.isl, point.osl
                tpot_slo_ms = point.tpot_slo_ms if tpot_slo_ms is None else tpot_slo_ms
                if not as_json:
                    console.print(
                        f"workload {workload}: mean isl {isl}, osl {osl} over "
                        f"{point.sampled_requests} requests; TPOT target {tpot_slo_ms} ms",
                        highlight=False,
                    )
            result = compare(
                model,
                [h.strip() for h in hardware.split(",") if h.strip()],
                chips=chips,
                batch=batch,
                isl=isl,
                osl=osl,
                tpot_slo_ms=tpot_slo_ms,
                price_per_hour=parse_prices(price_per_hour or []),
                engine=engine,
                target_batch=target_batch,
                weights=weights,
                kv=kv,
                with_sensitivity=sensitivity,
                sram_kv=sram_kv,
                kv_offload=None if kv_offload is None else parse_tiers(kv_offload),
            )
        written = write_compare(result, out) if out else []
        if as_json:
            print_json(result.to_dict())
            return
        console.print(compare_table(result))
        if result.sensitivity:
            console.print(sensitivity_table(result))
        for line in summary_lines(result):
            console.print(line, highlight=False)
        for path in written:
            console.print(f"wrote {path}")
