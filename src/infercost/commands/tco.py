"""`infercost tco HARDWARE`: what a chip-hour costs, rented (catalog terms) or owned (TCO)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from infercost.commands.base import JsonFlag, console, print_json, user_errors
from infercost.econ.tco import OwnedCost, chip_hour_prices, owned_chip_hour, utilization_cost


def register(app: typer.Typer) -> None:
    @app.command("tco")
    def tco_cmd(
        hardware: Annotated[str, typer.Argument(help="Catalog hardware id or a spec YAML.")],
        capex: Annotated[
            float | None, typer.Option(help="Owned: purchase price per chip, USD (your input).")
        ] = None,
        years: Annotated[float, typer.Option(help="Owned: amortization years.")] = 4.0,
        usd_per_kwh: Annotated[float, typer.Option(help="Owned: electricity price.")] = 0.10,
        utilization: Annotated[
            float, typer.Option(help="Owned: average share of TDP drawn.")
        ] = 0.6,
        pue: Annotated[float, typer.Option(help="Owned: facility PUE.")] = 1.3,
        hosting: Annotated[float, typer.Option(help="Owned: hosting USD per chip-year.")] = 0.0,
        observed_utilization: Annotated[
            float | None,
            typer.Option(help="Share of the time the chips do useful work: prints the waste."),
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Rented $/chip-hour by provider and term, owned TCO per chip-hour, and idle waste."""
        with user_errors():
            rows = chip_hour_prices(hardware)
            owned = (
                owned_chip_hour(
                    hardware,
                    OwnedCost(
                        capex_usd_per_chip=capex,
                        amortization_years=years,
                        usd_per_kwh=usd_per_kwh,
                        utilization=utilization,
                        pue=pue,
                        hosting_usd_per_chip_year=hosting,
                    ),
                )
                if capex is not None
                else None
            )
            waste = (
                utilization_cost(1.0, observed_utilization)
                if observed_utilization is not None
                else None
            )
        out: dict[str, Any] = {
            "rented": [r.model_dump(mode="json") for r in rows],
            "owned": owned.model_dump(mode="json") if owned else None,
            "observed_utilization": waste.model_dump(mode="json") if waste else None,
        }
        if as_json:
            print_json(out)
            return
        table = Table(title=f"rented {hardware}: USD per chip-hour")
        for col in ("provider", "term", "$/chip-hour", "source", "as of"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r.provider, r.term, f"{r.usd_per_chip_hour:.2f}", r.source, r.as_of or "undated"
            )
        console.print(table if rows else f"the catalog has no sourced price for {hardware}")
        if owned:
            console.print(
                f"owned: ${owned.usd_per_chip_hour:.3f}/chip-hour = capex ${owned.capex_usd_per_hour:.3f}"
                f" + power ${owned.power_usd_per_hour:.3f} + hosting ${owned.hosting_usd_per_hour:.3f}"
                f" (options used: capex ${capex:,.0f} over {years:g} y, ${usd_per_kwh:g}/kWh, "
                f"utilization {utilization:g}, PUE {pue:g}, hosting ${hosting:,.0f}/chip-year; "
                f"TDP {owned.tdp_w:.0f} W from {owned.tdp_source}; {owned.power_basis})",
                highlight=False,
            )
        if waste:
            console.print(
                f"at {waste.utilization:.0%} utilization every token costs "
                f"{waste.usd_per_mtok:.2f}× its full-use price; {waste.wasted_share:.0%} of the spend "
                "buys idle chips",
                highlight=False,
            )
