"""What a chip-hour costs (rented or owned) and what a deployment's tokens cost at that price.

* Rented: the catalog's $/chip-hour rows for a hardware id, by provider and term (on-demand, spot,
  reserved-1y, …), each with its source and date.
* Owned: total cost of ownership per chip-hour = capex amortized over wall-clock hours + power +
  hosting. Power is TDP-based: `TDP × average utilization × PUE × $/kWh`, with the TDP (board/module
  maximum power) from the catalog, so it is an upper estimate of what the chip draws at that
  utilization (idle power is not modelled). The capex is always user input; nothing is guessed.
* Utilization: a $/Mtok computed at full use costs `1 / utilization` times as much at the observed
  utilization, and `1 − utilization` of the spend buys idle chips.
* Token costs: $/hour, $/1M input tokens (prefill chip-seconds ÷ prompt tokens), $/1M output tokens
  (decode chip-seconds ÷ output tokens) and $/request, from perf figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infercost import catalog
from infercost.catalog import ChipPrice
from infercost.econ.cost import SECONDS_PER_HOUR, usd_per_mtok
from infercost.errors import InfercostError
from infercost.perf.figures import Figures
from infercost.specs.hardware import Hardware

HOURS_PER_YEAR = 8760.0  # 365 days; amortization and hosting are spread over wall-clock hours
POWER_BASIS = (
    "TDP-based: catalog tdp_w × average utilization × PUE (upper estimate; idle power not modelled)"
)


class _Checked(BaseModel):
    """Frozen model whose validation errors surface as one-line `InfercostError`s."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or type(self).__name__
            raise InfercostError(where, first.get("input"), first["msg"]) from None


# --- rented -------------------------------------------------------------------------------------------


def chip_hour_prices(
    hardware: str | Hardware, *, term: str | None = None, provider: str | None = None
) -> list[ChipPrice]:
    """Catalog $/chip-hour rows for a hardware id, cheapest first, optionally one term or provider.

    An empty list means the catalog has no sourced price for that hardware (nothing is guessed).
    """
    hw = catalog.hardware(hardware) if isinstance(hardware, str) else hardware
    rows = catalog.chip_prices(hw.id)
    for name, value in (("term", term), ("provider", provider)):
        if value is None:
            continue
        known = sorted({getattr(r, name) for r in rows})
        if value not in known:
            allowed = " ".join(known) if known else f"none: the catalog has no price for {hw.id}"
            raise InfercostError(name, value, f"allowed for {hw.id}: {allowed}")
        rows = [r for r in rows if getattr(r, name) == value]
    return sorted(rows, key=lambda r: (r.usd_per_chip_hour, r.provider, r.term))


def price_by_term(hardware: str | Hardware) -> dict[str, dict[str, float]]:
    """{term: {provider: lowest $/chip-hour}} for a hardware id (catalog rows only)."""
    table: dict[str, dict[str, float]] = {}
    for row in chip_hour_prices(hardware):
        by_provider = table.setdefault(row.term, {})
        by_provider[row.provider] = min(
            by_provider.get(row.provider, row.usd_per_chip_hour), row.usd_per_chip_hour
        )
    return table


# --- owned --------------------------------------------------------------------------------------------


class OwnedCost(_Checked):
    """Inputs of an owned chip's TCO. The capex is user input; the catalog never supplies one."""

    capex_usd_per_chip: float = Field(gt=0)  # purchase price of one accelerator (its server share)
    amortization_years: float = Field(gt=0)
    usd_per_kwh: float = Field(ge=0)
    utilization: float = Field(1.0, gt=0, le=1)  # average share of TDP drawn over the amortization
    pue: float = Field(1.0, ge=1)  # power usage effectiveness of the facility
    hosting_usd_per_chip_year: float = Field(0.0, ge=0)  # space, network, staff, per chip
    tdp_w: float | None = Field(None, gt=0)  # override of the catalog TDP


class OwnedChipHour(BaseModel):
    """$/chip-hour of an owned chip with its breakdown (USD per wall-clock hour)."""

    model_config = ConfigDict(frozen=True)

    hardware: str
    capex_usd_per_hour: float
    power_usd_per_hour: float
    hosting_usd_per_hour: float
    usd_per_chip_hour: float
    tdp_w: float
    tdp_source: str  # "catalog: …" or "user input"
    power_basis: str
    inputs: OwnedCost


def owned_chip_hour(hardware: str | Hardware, cost: OwnedCost) -> OwnedChipHour:
    """Owned TCO per chip-hour: capex ÷ (years × 8760 h) + TDP × utilization × PUE × $/kWh + hosting."""
    hw = catalog.hardware(hardware) if isinstance(hardware, str) else hardware
    if cost.tdp_w is not None:
        tdp, tdp_source = cost.tdp_w, "user input"
    elif hw.tdp_w is not None:
        src = hw.source if isinstance(hw.source, str) else "; ".join(hw.source[:1])
        tdp, tdp_source = hw.tdp_w, f"catalog {hw.id} tdp_w ({src}, as of {hw.as_of})"
    else:
        raise InfercostError(
            f"hardware {hw.id}: tdp_w", None, "the catalog has no sourced TDP; pass tdp_w"
        )
    capex = cost.capex_usd_per_chip / (cost.amortization_years * HOURS_PER_YEAR)
    power = tdp / 1000.0 * cost.utilization * cost.pue * cost.usd_per_kwh
    hosting = cost.hosting_usd_per_chip_year / HOURS_PER_YEAR
    return OwnedChipHour(
        hardware=hw.id,
        capex_usd_per_hour=capex,
        power_usd_per_hour=power,
        hosting_usd_per_hour=hosting,
        usd_per_chip_hour=capex + power + hosting,
        tdp_w=tdp,
        tdp_source=tdp_source,
        power_basis=POWER_BASIS,
        inputs=cost,
    )


# --- utilization --------------------------------------------------------------------------------------


class UtilizationCost(BaseModel):
    model_config = ConfigDict(frozen=True)

    usd_per_mtok_at_full_use: float
    utilization: float
    usd_per_mtok: (
        float  # what each token really costs when the chips are busy `utilization` of the time
    )
    wasted_share: float  # share of the spend that buys idle time


def utilization_cost(usd_per_mtok_at_full_use: float, utilization: float) -> UtilizationCost:
    """Cost at the observed utilization: chips are paid for every hour, tokens come only when busy.

    15–30 % utilization means 70–85 % of the spend is waste (and tokens cost 3.3–6.7× the full-use
    price)."""
    if not usd_per_mtok_at_full_use >= 0 or not np.isfinite(usd_per_mtok_at_full_use):
        raise InfercostError(
            "usd_per_mtok_at_full_use", usd_per_mtok_at_full_use, "must be a finite number ≥ 0"
        )
    if not 0 < utilization <= 1:
        raise InfercostError("utilization", utilization, "must be in (0, 1] (a fraction, not %)")
    return UtilizationCost(
        usd_per_mtok_at_full_use=usd_per_mtok_at_full_use,
        utilization=utilization,
        usd_per_mtok=usd_per_mtok_at_full_use / utilization,
        wasted_share=1.0 - utilization,
    )


# --- a deployment's token costs -----------------------------------------------------------------------


class TokenCosts(BaseModel):
    """Dollars of one deployment (replica) at one workload point."""

    model_config = ConfigDict(frozen=True)

    usd_per_chip_hour: float
    chips: int
    usd_per_hour: float
    usd_per_mtok_input: float  # prefill chip-seconds ÷ prompt tokens
    usd_per_mtok_output: float  # decode chip-seconds ÷ output tokens
    usd_per_request: float  # isl input tokens + osl output tokens


def token_costs(
    usd_per_chip_hour: float,
    chips: int,
    *,
    prefill_s: float,
    prompt_tokens: int,
    decode_step_s: float,
    batch: int,
    isl: int,
    osl: int,
) -> TokenCosts:
    """$/hour, $/1M input and output tokens and $/request.

    `prefill_s` is the time the chips spend on `prompt_tokens` prompt tokens; `decode_step_s` is one
    decode step producing `batch` output tokens.
    """
    if not usd_per_chip_hour >= 0 or not np.isfinite(usd_per_chip_hour):
        raise InfercostError("usd_per_chip_hour", usd_per_chip_hour, "must be a finite number ≥ 0")
    for name, value in (
        ("chips", chips),
        ("prompt_tokens", prompt_tokens),
        ("batch", batch),
        ("isl", isl),
        ("osl", osl),
    ):
        if not value >= 1:
            raise InfercostError(name, value, "must be a whole number ≥ 1")
    for name, secs in (("prefill_s", prefill_s), ("decode_step_s", decode_step_s)):
        if not secs > 0 or not np.isfinite(secs):
            raise InfercostError(name, secs, "must be a finite number of seconds > 0")
    usd_in = float(usd_per_mtok(usd_per_chip_hour, chips, prefill_s, prompt_tokens))
    usd_out = float(usd_per_mtok(usd_per_chip_hour, chips, decode_step_s, batch))
    return TokenCosts(
        usd_per_chip_hour=usd_per_chip_hour,
        chips=chips,
        usd_per_hour=usd_per_chip_hour * chips,
        usd_per_mtok_input=usd_in,
        usd_per_mtok_output=usd_out,
        usd_per_request=(usd_in * isl + usd_out * osl) / 1e6,
    )


def deployment_costs(
    fig: Figures, usd_per_chip_hour: float, *, chips: int, batch: int, isl: int, osl: int
) -> TokenCosts:
    """`token_costs` from `perf.figures`: the prefill is the prompt's TTFT (chunks plus the request
    overhead, during which the chips are held), the decode step is the TPOT at `batch`."""
    return token_costs(
        usd_per_chip_hour,
        chips,
        prefill_s=fig.ttft_s,
        prompt_tokens=isl,
        decode_step_s=fig.tpot_s,
        batch=batch,
        isl=isl,
        osl=osl,
    )


def usd_per_hour(usd_per_chip_hour: float, chips: int) -> float:
    """$ per wall-clock hour of a deployment of `chips` chips."""
    return usd_per_chip_hour * chips


__all__ = [
    "HOURS_PER_YEAR",
    "SECONDS_PER_HOUR",
    "OwnedChipHour",
    "OwnedCost",
    "TokenCosts",
    "UtilizationCost",
    "chip_hour_prices",
    "deployment_costs",
    "owned_chip_hour",
    "price_by_term",
    "token_costs",
    "usd_per_hour",
    "utilization_cost",
]
