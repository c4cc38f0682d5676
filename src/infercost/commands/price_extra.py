"""`infercost price sheet | breakeven`: a cost-based price sheet for a self-hosted deployment, and the
daily volume at which self-hosting beats an API sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from infercost.commands.base import JsonFlag, console, print_json, user_errors
from infercost.econ.breakeven import WorkloadMix, break_even
from infercost.econ.price_derive import derive_sheet
from infercost.econ.price_sheets import PriceSheet, load_price_sheets, price_sheet


def _usd(x: float | None) -> str:
    return "—" if x is None else f"${x:,.4g}"


def sheet_cmd(
    model: Annotated[str, typer.Argument(help="Model (catalog id).")],
    hardware: Annotated[str, typer.Option(help="Hardware (catalog id).")],
    chips: Annotated[
        int | None, typer.Option(help="Chips per replica (default: the fewest that fit).")
    ] = None,
    margin: Annotated[float, typer.Option(help="Share of the price kept as margin, [0, 1).")] = 0.4,
    utilization: Annotated[
        float, typer.Option(help="Average busy share of the chips, (0, 1].")
    ] = 1.0,
    isl: Annotated[int, typer.Option(help="Prompt tokens the prices are sized at.")] = 2048,
    osl: Annotated[int, typer.Option(help="Output tokens the prices are sized at.")] = 512,
    tpot_ms: Annotated[
        float | None, typer.Option(help="Interactive TPOT target (ms); default: cheapest batch.")
    ] = None,
    batch: Annotated[
        int | None, typer.Option(help="Interactive batch (instead of --tpot-ms).")
    ] = None,
    price_per_hour: Annotated[float | None, typer.Option(help="USD per chip-hour.")] = None,
    long_context: Annotated[
        int | None, typer.Option(help="Long-context threshold, tokens (default: KV crossover).")
    ] = None,
    fast_speed: Annotated[float, typer.Option(help="Speed multiple of the fast tier.")] = 2.0,
    cache_ttl_s: Annotated[float, typer.Option(help="Cache lifetime, seconds.")] = 300.0,
    out: Annotated[Path | None, typer.Option(help="Write the sheet as YAML here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """A cost-based price sheet: input, output, cached-input, long-context, batch and fast-tier prices."""
    with user_errors():
        derived = derive_sheet(
            model,
            hardware,
            chips=chips,
            margin=margin,
            batch=batch,
            tpot_ms=tpot_ms,
            isl=isl,
            osl=osl,
            utilization=utilization,
            price_per_hour=price_per_hour,
            long_context_tokens=long_context,
            fast_speed=fast_speed,
            cache_ttl_s=cache_ttl_s,
        )
        sheet = derived.to_price_sheet()
    if out is not None:
        data = sheet.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        data = {"id": sheet.id, **data, "source": sheet.source, "as_of": sheet.as_of}
        out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    if as_json:
        print_json(
            {"derived": derived.model_dump(mode="json"), "sheet": sheet.model_dump(mode="json")}
        )
        return
    console.print(
        f"[bold]{sheet.id}[/] — prices: {derived.source}, {derived.as_of}", highlight=False
    )
    table = Table(title="USD per 1M tokens")
    for col in ("price", "cost (full use)", "price (× markup)", "how"):
        table.add_column(col)
    m = derived.markup
    table.add_row(
        "input",
        _usd(derived.cost_input_usd_per_mtok),
        _usd(derived.input_usd_per_mtok),
        f"prefill of a {derived.isl}-token prompt",
    )
    table.add_row(
        "output",
        _usd(derived.cost_output_usd_per_mtok),
        _usd(derived.output_usd_per_mtok),
        f"decode at batch {derived.batch} ({derived.tpot_ms:.2f} ms/token)",
    )
    table.add_row(
        "cached input read",
        _usd(derived.cost_cached_input_read_usd_per_mtok),
        _usd(derived.cached_input_read_usd_per_mtok),
        f"KV held in HBM for {derived.cache_ttl_s:g} s (≤ input)",
    )
    lc = derived.long_context
    if lc is not None:
        for side, cost, price in (
            ("input", lc.cost_input_usd_per_mtok, lc.input_usd_per_mtok),
            ("output", lc.cost_output_usd_per_mtok, lc.output_usd_per_mtok),
        ):
            table.add_row(
                f"{side} > {lc.above_tokens:,} tokens",
                _usd(cost),
                _usd(price),
                f"at a {lc.priced_at_isl:,}-token prompt, batch {lc.batch}",
            )
    table.add_row(
        "batch tier",
        "",
        f"{derived.batch_discount:.1%} off",
        f"batch {derived.batch_tier_batch} vs {derived.batch}",
    )
    if derived.fast is not None:
        f = derived.fast
        table.add_row(
            "fast tier output",
            _usd(f.output_usd_per_mtok / m),
            _usd(f.output_usd_per_mtok),
            f"batch {f.batch}: {f.speed_multiple:.2f}× speed, {f.price_multiple:.2f}× price",
        )
    console.print(table)
    for a in derived.assumptions:
        console.print(f"  assumes: {a}", highlight=False)
    if out is not None:
        console.print(f"wrote {out}", highlight=False)


def _sheet(ref: str) -> PriceSheet:
    return load_price_sheets(Path(ref))[0] if ref.endswith((".yaml", ".yml")) else price_sheet(ref)


def breakeven_cmd(
    sheet: Annotated[
        str, typer.Argument(help="PROVIDER/MODEL from `price list`, or a YAML sheet.")
    ],
    like: Annotated[str, typer.Option(help="Model to self-host (catalog id).")],
    hardware: Annotated[str, typer.Option(help="Hardware (catalog id).")],
    chips: Annotated[
        int | None, typer.Option(help="Chips per replica (default: the fewest that fit).")
    ] = None,
    input_tokens: Annotated[int, typer.Option("--input", help="Prompt tokens per request.")] = 2000,
    cached: Annotated[int, typer.Option(help="Cached prompt tokens per request.")] = 0,
    output_tokens: Annotated[
        int, typer.Option("--output", help="Output tokens per request.")
    ] = 400,
    utilization: Annotated[
        float, typer.Option(help="Average busy share of the chips, (0, 1].")
    ] = 0.5,
    price_per_hour: Annotated[float | None, typer.Option(help="USD per chip-hour.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Daily token volume above which self-hosting `--like` on `--hardware` beats the sheet."""
    with user_errors():
        ref = _sheet(sheet)
        mix = WorkloadMix.single(input_tokens, output_tokens, cached)
        result = break_even(
            ref,
            like,
            hardware,
            mix=mix,
            chips=chips,
            utilization=utilization,
            price_per_hour=price_per_hour,
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    console.print(f"[bold]{result.sheet}[/] — prices: {result.sheet_source}", highlight=False)
    table = Table(title=f"self-host {result.model} on {result.chips}× {result.hardware} vs API")
    table.add_column("")
    table.add_column("value")
    rows = [
        ("API, blended", f"${result.api_usd_per_mtok:,.4g}/Mtok"),
        ("replica cost", f"${result.replica_usd_per_day:,.2f}/day"),
        (
            f"replica capacity at {result.utilization:g} utilization",
            f"{result.replica_capacity_tokens_per_day:,.0f} tokens/day",
        ),
        ("self-host, full replica", f"${result.self_host_usd_per_mtok_full:,.4g}/Mtok"),
    ]
    for c in result.classes:
        rows.append(
            (
                f"class {c.input_tokens}(cached {c.cached_input_tokens})+{c.output_tokens}, share {c.share:.0%}",
                f"batch {c.batch}, {c.replica_s_per_request * 1e3:.1f} replica-ms/request, "
                f"API ${c.api_usd_per_request:.5g}/request",
            )
        )
    if result.stays_cheaper_above_tokens_per_day is None:
        rows.append(("break-even", "none: the API is cheaper at every volume"))
    else:
        assert result.first_cheaper_tokens_per_day is not None
        rows.append(
            (
                "one replica first cheaper at",
                f"{result.first_cheaper_tokens_per_day:,.0f} tokens/day",
            )
        )
        rows.append(
            (
                "self-host stays cheaper above",
                f"{result.stays_cheaper_above_tokens_per_day:,.0f} tokens/day "
                f"({result.stays_cheaper_replicas} replica(s))",
            )
        )
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    curve = Table(title="cost per day by volume")
    for col in ("tokens/day", "API $/day", "self-host $/day", "replicas", "cheaper"):
        curve.add_column(col)
    for p in result.curve[::5]:
        curve.add_row(
            f"{p.tokens_per_day:,.3g}",
            f"{p.api_usd_per_day:,.2f}",
            f"{p.self_host_usd_per_day:,.2f}",
            str(p.replicas),
            p.cheaper,
        )
    console.print(curve)
    for a in result.assumptions:
        console.print(f"  assumes: {a}", highlight=False)


def register(price_app: typer.Typer) -> None:
    """Add `sheet` and `breakeven` to the `price` group."""
    price_app.command("sheet")(sheet_cmd)
    price_app.command("breakeven")(breakeven_cmd)
