"""What an API price sheet implies about the infrastructure behind it, set against our model of a
comparable open model on comparable hardware.

Each implication pairs a number from the sheet with the number our model gives for the same thing,
states how it was computed and what was assumed, and reads the two side by side. Nothing here is a
claim about the provider's real system: it is what the prices would mean if they tracked cost.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from infercost import catalog
from infercost.econ.frontier import Frontier, frontier
from infercost.econ.price_sheets import PriceSheet, describe_source, price_sheet
from infercost.errors import InfercostError
from infercost.estimation import Estimate, estimate

SECONDS_PER_HOUR = 3600.0


class Implication(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    sheet: str  # the sheet's number, with its unit
    modeled: str  # ours, with its unit
    reading: str  # what the two together suggest
    assumptions: list[str]


class PriceDecoding(BaseModel):
    model_config = ConfigDict(frozen=True)

    sheet: str
    sheet_source: str
    like: str
    hardware: str
    chips: int
    batch: int
    isl: int
    osl: int
    price_source: str
    implications: list[Implication]


def _usd(x: float) -> str:
    return f"${x:,.4g}/Mtok"


def _output_input(sheet: PriceSheet, est: Estimate) -> Implication:
    assert est.usd_per_mtok_output is not None and est.usd_per_mtok_input is not None
    sheet_ratio = sheet.output_usd_per_mtok / sheet.input_usd_per_mtok
    modeled = est.usd_per_mtok_output / est.usd_per_mtok_input
    return Implication(
        topic="output ÷ input price",
        sheet=f"{sheet_ratio:.2f}× ({_usd(sheet.output_usd_per_mtok)} ÷ {_usd(sheet.input_usd_per_mtok)})",
        modeled=f"{modeled:.2f}× (decode {_usd(est.usd_per_mtok_output)} ÷ prefill {_usd(est.usd_per_mtok_input)})",
        reading=(
            "the sheet charges output closer to its compute cost than input"
            if sheet_ratio > modeled
            else "the sheet's output premium is below the modeled decode/prefill cost ratio: "
            "decode runs at larger batches than modeled, or output is priced below cost"
        ),
        assumptions=[
            f"decode at batch {est.batch}, context {est.isl}+{est.osl}; prefill of one {est.isl}-token "
            "prompt holding every chip (both at the same $/chip-hour)"
        ],
    )


def _cache(sheet: PriceSheet, est: Estimate, ttl_s: float) -> Implication | None:
    read = sheet.cached_input_read_usd_per_mtok
    if read is None:
        return None
    hw = catalog.hardware(est.hardware)
    assert est.usd_per_hour is not None and est.usd_per_mtok_input is not None
    if hw.memory_bytes is None:
        return None
    usd_per_byte_hour = est.usd_per_hour / (est.chips * hw.memory_bytes)
    stored = est.kv_bytes_per_token * 1e6 * usd_per_byte_hour * ttl_s / SECONDS_PER_HOUR
    discount = 1.0 - read / sheet.input_usd_per_mtok
    recompute = est.usd_per_mtok_input
    return Implication(
        topic="cache-hit discount",
        sheet=f"{discount:.0%} off input ({_usd(read)} vs {_usd(sheet.input_usd_per_mtok)})",
        modeled=(
            f"holding the KV cache in HBM for {ttl_s:.0f} s costs {_usd(stored)}; recomputing it costs "
            f"{_usd(recompute)} ({stored / recompute:.2%} of recompute)"
        ),
        reading=(
            "storing is far cheaper than recomputing, so a deep cache discount is affordable"
            if stored < 0.25 * recompute
            else "storing in HBM for that long costs a sizeable share of recompute: the discount "
            "implies cheaper tiers (host DRAM, SSD) or short residency"
        ),
        assumptions=[
            f"KV {est.kv_bytes_per_token:,.0f} B/token ({est.kv} cache of {est.model})",
            f"HBM priced as its share of the chips' hour: ${est.usd_per_hour:.2f}/h ÷ "
            f"{est.chips} × {hw.memory_bytes / 1e9:.0f} GB",
            f"cache lifetime {ttl_s:.0f} s"
            + (
                " (the sheet's TTL)"
                if sheet.cache_write_ttl_s
                else " (assumed: the sheet gives no TTL)"
            ),
        ],
    )


def _long_context(sheet: PriceSheet, front: Frontier) -> Implication | None:
    if not sheet.long_context:
        return None
    tier = sheet.long_context[0]
    cross = front.context_crossover[-1]
    where = (
        f"{cross.context_tokens:,} tokens"
        if cross.context_tokens is not None
        else f"beyond {cross.searched_up_to:,} tokens"
    )
    return Implication(
        topic="long-context threshold",
        sheet=(
            f"above {tier.above_tokens:,} prompt tokens: input ×{tier.input_usd_per_mtok / sheet.input_usd_per_mtok:.2f}, "
            f"output ×{tier.output_usd_per_mtok / sheet.output_usd_per_mtok:.2f}"
        ),
        modeled=f"at batch {cross.batch}, KV reads per decode step overtake weight reads at {where}",
        reading=(
            "the threshold sits past the point where KV traffic dominates decode cost: the surcharge "
            "tracks memory traffic"
            if cross.context_tokens is not None and tier.above_tokens >= cross.context_tokens
            else "the threshold sits before KV traffic dominates at this batch: the surcharge prices "
            "capacity (fewer sequences fit) more than bandwidth"
        ),
        assumptions=[f"{front.model} on {front.chips}× {front.hardware}, {front.kv} KV cache"],
    )


def _batch(sheet: PriceSheet, front: Frontier, batch: int) -> Implication | None:
    if sheet.batch_discount is None:
        return None
    interactive = min(front.points, key=lambda p: abs(p.batch - batch))
    best = front.best
    modeled = 1.0 - best.usd_per_mtok_output / interactive.usd_per_mtok_output
    return Implication(
        topic="batch-API discount",
        sheet=f"{sheet.batch_discount:.0%} off",
        modeled=(
            f"{modeled:.0%} cheaper per output token at batch {best.batch} than at batch "
            f"{interactive.batch} ({_usd(best.usd_per_mtok_output)} vs {_usd(interactive.usd_per_mtok_output)})"
        ),
        reading=(
            "the discount is within what filling the batch saves"
            if sheet.batch_discount <= modeled
            else "the discount exceeds what a fuller batch saves here: it also buys off-peak capacity "
            "the provider would leave idle"
        ),
        assumptions=[
            f"interactive traffic served at batch {interactive.batch}; batch traffic at the memory limit"
        ],
    )


def _tiers(sheet: PriceSheet, front: Frontier, batch: int) -> list[Implication]:
    out = []
    base = min(front.points, key=lambda p: abs(p.batch - batch))
    for tier in sheet.tiers:
        multiple = tier.output_multiplier
        if multiple is None and tier.output_usd_per_mtok is not None:
            multiple = tier.output_usd_per_mtok / sheet.output_usd_per_mtok
        if multiple is None or multiple <= 1.0:
            continue
        affordable = [
            p for p in front.points if p.usd_per_mtok_output <= multiple * base.usd_per_mtok_output
        ]
        fastest = max(affordable, key=lambda p: p.tokens_per_s_per_user)
        speed = fastest.tokens_per_s_per_user / base.tokens_per_s_per_user
        out.append(
            Implication(
                topic=f"'{tier.name}' tier",
                sheet=f"{multiple:.2f}× the output price",
                modeled=(
                    f"{multiple:.2f}× the cost buys batch {fastest.batch}: {speed:.2f}× the tokens/s per "
                    f"user of batch {base.batch} (latency floor {front.latency_floor_ms:.1f} ms/token)"
                ),
                reading=(
                    "a smaller batch alone can deliver a speed-up for that price"
                    if speed > 1.05
                    else "a smaller batch buys almost no speed here: the tier must come from other "
                    "hardware, speculative decoding or priority in the queue"
                ),
                assumptions=[f"the standard tier served at batch {base.batch}"],
            )
        )
    return out


def decode_sheet(
    sheet: str | PriceSheet,
    like: str,
    hardware: str,
    *,
    chips: int | None = None,
    batch: int = 64,
    isl: int = 2048,
    osl: int = 512,
    price_per_hour: float | None = None,
    cache_ttl_s: float | None = None,
) -> PriceDecoding:
    """Side by side: what `sheet` charges and what serving `like` on `hardware` costs us."""
    if batch < 1:
        raise InfercostError("batch", batch, "must be a whole number ≥ 1")
    ps = price_sheet(sheet) if isinstance(sheet, str) else sheet
    front = frontier(like, hardware, chips=chips, isl=isl, osl=osl, price_per_hour=price_per_hour)
    est = estimate(
        like,
        hardware,
        chips=front.chips,
        batch=batch,
        isl=isl,
        osl=osl,
        price_per_hour=price_per_hour,
    )
    if est.usd_per_hour is None:
        raise InfercostError(
            "price_per_hour", None, f"required: the catalog has no price for {hardware}"
        )
    ttl = cache_ttl_s or ps.cache_write_ttl_s or 300.0
    found = [
        _output_input(ps, est),
        _cache(ps, est, ttl),
        _long_context(ps, front),
        _batch(ps, front, batch),
        *_tiers(ps, front, batch),
    ]
    prov = est.provenance
    return PriceDecoding(
        sheet=ps.id,
        sheet_source=describe_source(ps),
        like=est.model,
        hardware=est.hardware,
        chips=est.chips,
        batch=batch,
        isl=isl,
        osl=osl,
        price_source=f"${est.usd_per_chip_hour:.2f}/chip-hour: {prov.price_source} ({prov.price_as_of or 'undated'})",
        implications=[i for i in found if i is not None],
    )
