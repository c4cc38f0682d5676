"""`infercost price list | show | decode`: the API price-sheet catalog and what a sheet implies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infercost.commands.base import JsonFlag, console, print_json, user_errors
from infercost.commands.price_extra import register as register_derived
from infercost.econ.price_decode import decode_sheet
from infercost.econ.price_sheets import (
    describe_source,
    load_price_sheets,
    price_sheet,
    price_sheets,
)

price_app = typer.Typer(
    help="API price sheets: the catalog, and what a sheet implies.", no_args_is_help=True
)


@price_app.command("list")
def list_cmd(as_json: JsonFlag = False) -> None:
    """Every shipped sheet: input, output and cached-input prices with their source and date."""
    sheets = sorted(price_sheets().values(), key=lambda s: s.id)
    if as_json:
        print_json([s.model_dump(mode="json") for s in sheets])
        return
    table = Table(title=f"{len(sheets)} API price sheets (USD per 1M tokens)")
    for col in ("id", "input", "output", "cached read", "batch off", "as of"):
        table.add_column(col)
    for s in sheets:
        read = s.cached_input_read_usd_per_mtok
        table.add_row(
            s.id,
            f"{s.input_usd_per_mtok:g}",
            f"{s.output_usd_per_mtok:g}",
            "—" if read is None else f"{read:g}",
            "—" if s.batch_discount is None else f"{s.batch_discount:.0%}",
            s.as_of or "undated",
        )
    console.print(table)


@price_app.command("decode")
def decode_cmd(
    sheet: Annotated[
        str, typer.Argument(help="PROVIDER/MODEL from `price list`, or a YAML sheet file.")
    ],
    like: Annotated[
        str, typer.Option(help="Comparable open model (catalog id).")
    ] = "llama-3.1-70b",
    hardware: Annotated[str, typer.Option(help="Comparable hardware (catalog id).")] = "h100-sxm",
    chips: Annotated[
        int | None, typer.Option(help="Chips per replica (default: the fewest that fit).")
    ] = None,
    batch: Annotated[int, typer.Option(help="Batch of interactive traffic.")] = 64,
    isl: Annotated[int, typer.Option(help="Prompt tokens.")] = 2048,
    osl: Annotated[int, typer.Option(help="Output tokens.")] = 512,
    price_per_hour: Annotated[float | None, typer.Option(help="USD per chip-hour.")] = None,
    cache_ttl_s: Annotated[float | None, typer.Option(help="Cache lifetime, seconds.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """What a price sheet implies, beside our model of a comparable open model on comparable hardware."""
    with user_errors():
        ref = (
            load_price_sheets(Path(sheet))[0]
            if sheet.endswith((".yaml", ".yml"))
            else price_sheet(sheet)
        )
        result = decode_sheet(
            ref,
            like,
            hardware,
            chips=chips,
            batch=batch,
            isl=isl,
            osl=osl,
            price_per_hour=price_per_hour,
            cache_ttl_s=cache_ttl_s,
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    console.print(f"[bold]{result.sheet}[/] — prices: {describe_source(ref)}", highlight=False)
    console.print(
        f"compared with {result.like} on {result.chips}× {result.hardware}, batch {result.batch}, "
        f"{result.isl} + {result.osl} tokens; {result.price_source}",
        highlight=False,
    )
    for imp in result.implications:
        console.print(f"\n[bold]{imp.topic}[/]", highlight=False)
        console.print(f"  sheet:   {imp.sheet}", highlight=False)
        console.print(f"  modeled: {imp.modeled}", highlight=False)
        console.print(f"  reading: {imp.reading}", highlight=False)
        for a in imp.assumptions:
            console.print(f"  assumes: {a}", highlight=False)


register_derived(price_app)  # price sheet, price breakeven


def register(app: typer.Typer) -> None:
    app.add_typer(price_app, name="price")
