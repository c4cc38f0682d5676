"""A cost-based price sheet for a self-hosted deployment: what to charge so a margin survives.

Every price is `cost ÷ (1 − margin) ÷ utilization`, where the cost comes from the performance model
at full use (chips billed every hour, tokens produced only when busy):

* input — prefill chip-seconds of one prompt ÷ its tokens (`estimate().usd_per_mtok_input`);
* output — decode chip-seconds ÷ output tokens at the chosen batch (`estimate().usd_per_mtok_output`);
  the batch defaults to the frontier's cheapest point that meets an optional TPOT target;
* cached-input read — the cost of holding the prompt's KV cache in HBM for the cache lifetime, HBM
  priced as its share of the chips' hour (capped at the input price: never dearer than recomputing);
* long context — above a threshold (default: the context at which a decode step at the chosen batch
  reads more KV than weight bytes, `frontier().context_crossover`), prices re-estimated at a prompt of
  twice the threshold, at the largest batch up to the chosen one that fits; never below standard;
* batch — the discount of a request served at the memory-limited best batch against the chosen
  (interactive) batch;
* fast — the `fast` service tier: the output-price multiple of the cheapest batch that gives
  `fast_speed` × the chosen point's tokens/s per user (the frontier's `fast_mode`).

The result converts to a `PriceSheet` (`to_price_sheet`) that writes as YAML and loads back with
`load_price_sheets`.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from pydantic import BaseModel, ConfigDict

from infercost import catalog
from infercost.econ.frontier import Frontier, FrontierPoint, PriceSource, frontier
from infercost.econ.price_sheets import LongContextTier, PriceSheet, ServiceTier
from infercost.errors import DoesNotFitError, InfercostError
from infercost.estimation import Estimate, estimate

SECONDS_PER_HOUR = 3600.0
PROVIDER = "self-hosted"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class DerivedLongContext(_Frozen):
    above_tokens: int
    threshold_basis: str  # where the threshold comes from
    priced_at_isl: int  # prompt tokens the tier was re-estimated at
    batch: int  # batch used at that context (what fits)
    cost_input_usd_per_mtok: float
    cost_output_usd_per_mtok: float
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    cached_input_read_usd_per_mtok: float


class DerivedFast(_Frozen):
    speed_requested: float
    batch: int
    speed_multiple: float  # achieved tokens/s per user ÷ the chosen point's
    price_multiple: float  # its $/Mtok output ÷ the chosen point's (frontier)
    output_usd_per_mtok: float


class DerivedSheet(_Frozen):
    """A self-hosted deployment's cost-based prices (USD per 1M tokens) with how each was derived."""

    model: str
    hardware: str
    chips: int
    isl: int
    osl: int
    batch: int  # the interactive batch the standard prices assume
    tpot_ms: float  # at that batch
    margin: float
    utilization: float
    price: PriceSource  # $/chip-hour with its source and date
    usd_per_hour: float  # per replica
    markup: float  # 1 ÷ (1 − margin) ÷ utilization
    cost_input_usd_per_mtok: float  # at full use, no margin
    cost_output_usd_per_mtok: float
    cost_cached_input_read_usd_per_mtok: float | None  # None: the hardware has no memory size
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    cached_input_read_usd_per_mtok: float | None
    cache_ttl_s: float
    long_context: DerivedLongContext | None
    batch_tier_batch: int
    batch_discount: float  # in [0, 1)
    fast: DerivedFast | None
    context_window_tokens: int | None
    as_of: str
    sheet_id: str
    source: str
    assumptions: list[str]

    def to_price_sheet(self) -> PriceSheet:
        """The derived prices in the catalog's `PriceSheet` schema (dated today, with its source)."""
        cached = self.cached_input_read_usd_per_mtok
        long_context: tuple[LongContextTier, ...] = ()
        if self.long_context is not None:
            lc = self.long_context
            long_context = (
                LongContextTier(
                    above_tokens=lc.above_tokens,
                    input_usd_per_mtok=lc.input_usd_per_mtok,
                    output_usd_per_mtok=lc.output_usd_per_mtok,
                    cached_input_read_usd_per_mtok=(
                        None if cached is None else lc.cached_input_read_usd_per_mtok
                    ),
                    notes=lc.threshold_basis,
                ),
            )
        tiers: tuple[ServiceTier, ...] = ()
        if self.fast is not None:
            tiers = (
                ServiceTier(
                    name="fast",
                    input_multiplier=1.0,
                    output_multiplier=self.fast.price_multiple,
                    notes=(
                        f"batch {self.fast.batch}: {self.fast.speed_multiple:.2f}× the tokens/s per "
                        f"user of batch {self.batch}"
                    ),
                ),
            )
        return PriceSheet(
            id=self.sheet_id,
            provider=PROVIDER,
            model=self.sheet_id.split("/", 1)[1],
            display_name=f"{self.model} on {self.chips}× {self.hardware} (cost-based)",
            input_usd_per_mtok=self.input_usd_per_mtok,
            output_usd_per_mtok=self.output_usd_per_mtok,
            cached_input_read_usd_per_mtok=cached,
            cache_write_ttl_s=self.cache_ttl_s if cached is not None else None,
            batch_discount=self.batch_discount,
            batch_source=self.source,
            batch_as_of=self.as_of,
            long_context=long_context,
            tiers=tiers,
            context_window_tokens=self.context_window_tokens,
            source=self.source,
            as_of=self.as_of,
            notes="; ".join(self.assumptions),
        )


def _check(
    margin: float, utilization: float, fast_speed: float, cache_ttl_s: float, isl: int, osl: int
) -> None:
    if not (0 <= margin < 1):
        raise InfercostError("margin", margin, "must be in [0, 1) (a fraction of the price, not %)")
    if not (0 < utilization <= 1):
        raise InfercostError("utilization", utilization, "must be in (0, 1] (a fraction, not %)")
    if not (fast_speed >= 1 and math.isfinite(fast_speed)):
        raise InfercostError("fast_speed", fast_speed, "must be a multiple ≥ 1")
    if not (cache_ttl_s > 0 and math.isfinite(cache_ttl_s)):
        raise InfercostError("cache_ttl_s", cache_ttl_s, "must be a number of seconds > 0")
    for name, value in (("isl", isl), ("osl", osl)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InfercostError(name, value, "must be a whole number of tokens ≥ 1")


def _choose(front: Frontier, batch: int | None, tpot_ms: float | None) -> FrontierPoint:
    if batch is not None and tpot_ms is not None:
        raise InfercostError("tpot_ms", tpot_ms, "give a batch or a TPOT target, not both")
    if batch is not None:
        limit = front.max_concurrent_sequences
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= limit:
            raise InfercostError("batch", batch, f"must be a whole number in [1, {limit}] here")
        # a batch the sweep skipped is priced on its own frontier by the caller
        return next((p for p in front.points if p.batch == batch), front.points[0])
    if tpot_ms is None:
        return front.best
    if not (tpot_ms > 0 and math.isfinite(tpot_ms)):
        raise InfercostError("tpot_ms", tpot_ms, "must be a number of milliseconds > 0")
    meeting = [p for p in front.points if p.tpot_ms <= tpot_ms]
    if not meeting:
        fastest = min(p.tpot_ms for p in front.points)
        raise InfercostError(
            "tpot_ms",
            tpot_ms,
            f"unreachable on {front.chips}× {front.hardware}: batch 1 gives {fastest:.2f} ms "
            f"(latency floor {front.latency_floor_ms:.2f} ms)",
        )
    return min(meeting, key=lambda p: p.usd_per_mtok_output)


def _hbm_usd_per_mtok(est: Estimate, ttl_s: float) -> float | None:
    """Holding one token's KV in HBM for `ttl_s`, HBM priced as its share of the chips' hour."""
    hw = catalog.hardware(est.hardware)
    if hw.memory_bytes is None or est.usd_per_hour is None:
        return None
    usd_per_byte_hour = est.usd_per_hour / (est.chips * hw.memory_bytes)
    return max(0.0, est.kv_bytes_per_token * 1e6 * usd_per_byte_hour * ttl_s / SECONDS_PER_HOUR)


def _costs(est: Estimate) -> tuple[float, float]:
    assert est.usd_per_mtok_input is not None and est.usd_per_mtok_output is not None
    return est.usd_per_mtok_input, est.usd_per_mtok_output


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.\-]+", "-", text.lower()).strip("-.") or "x"


def derive_sheet(
    model: str,
    hardware: str,
    *,
    chips: int | None = None,
    margin: float = 0.4,
    batch: int | None = None,
    tpot_ms: float | None = None,
    isl: int = 2048,
    osl: int = 512,
    utilization: float = 1.0,
    price_per_hour: float | None = None,
    long_context_tokens: int | None = None,
    fast_speed: float = 2.0,
    cache_ttl_s: float = 300.0,
) -> DerivedSheet:
    """Cost-based prices for serving `model` on `hardware`: cost ÷ (1 − margin) ÷ utilization."""
    _check(margin, utilization, fast_speed, cache_ttl_s, isl, osl)
    if long_context_tokens is not None and (
        isinstance(long_context_tokens, bool)
        or not isinstance(long_context_tokens, int)
        or long_context_tokens < 1
    ):
        raise InfercostError(
            "long_context_tokens", long_context_tokens, "must be a whole number of tokens ≥ 1"
        )
    front = frontier(model, hardware, chips=chips, isl=isl, osl=osl, price_per_hour=price_per_hour)
    price = front.price
    p_hour = price.usd_per_chip_hour
    n = front.chips
    chosen = _choose(front, batch, tpot_ms)
    b = batch if batch is not None else chosen.batch
    if chosen.batch != b:  # an explicit batch the sweep skipped: price it on the same frontier
        front_b = frontier(
            model, hardware, chips=n, isl=isl, osl=osl, price_per_hour=p_hour, batches=[b]
        )
        chosen = next(p for p in front_b.points if p.batch == b)
    markup = 1.0 / (1.0 - margin) / utilization

    est = estimate(model, hardware, chips=n, batch=b, isl=isl, osl=osl, price_per_hour=p_hour)
    cost_in, cost_out = _costs(est)
    hbm = _hbm_usd_per_mtok(est, cache_ttl_s)
    cost_cached = None if hbm is None else min(hbm, cost_in)
    spec = catalog.model(model)
    hw = catalog.hardware(hardware)
    price_note = (
        f"${p_hour:.2f}/chip-hour (user input)"
        if price.source == "user input"
        else f"${p_hour:.2f}/chip-hour ({price.source}, {price.as_of or 'undated'})"
    )
    assumptions = [
        f"{est.model} on {n}× {est.hardware} (tp {est.tp}, {est.weights} weights, {est.kv} KV), "
        f"chips at {price_note}",
        f"price = cost ÷ (1 − {margin:g}) ÷ utilization {utilization:g} = cost × {markup:.3f}",
        f"input: prefill of one {isl}-token prompt holding every chip ({est.ttft_ms:.1f} ms)",
        f"output: decode at batch {b} ({est.tpot_ms:.2f} ms/token, context {isl}+{osl})",
    ]
    if hbm is not None:
        assert hw.memory_bytes is not None
        assumptions.append(
            f"cached read: KV {est.kv_bytes_per_token:,.0f} B/token held in HBM for {cache_ttl_s:g} s, "
            f"HBM priced as its share of the chips' hour (${est.usd_per_hour:.2f}/h ÷ {n} × "
            f"{hw.memory_bytes / 1e9:.0f} GB), capped at the input cost (recompute)"
        )
    else:
        assumptions.append(f"cached read: unknown ({hw.id} has no memory size in the catalog)")

    # long context
    long_context = _long_context(
        model,
        hardware,
        n=n,
        b=b,
        isl=isl,
        osl=osl,
        p_hour=p_hour,
        threshold=long_context_tokens,
        front=front,
        markup=markup,
        ttl_s=cache_ttl_s,
        standard=(cost_in, cost_out),
        max_context=spec.max_context,
        assumptions=assumptions,
    )

    # batch tier: the memory-limited best batch against the interactive batch, per request
    best = front.best
    est_best = (
        est
        if best.batch == b
        else estimate(
            model, hardware, chips=n, batch=best.batch, isl=isl, osl=osl, price_per_hour=p_hour
        )
    )
    in_best, out_best = _costs(est_best)
    per_request = cost_in * isl + cost_out * osl
    per_request_best = in_best * isl + out_best * osl
    discount = min(max(0.0, 1.0 - per_request_best / per_request), 0.999999)
    assumptions.append(
        f"batch tier: a {isl}+{osl} request at batch {best.batch} (memory limit) costs "
        f"{discount:.1%} less than at batch {b}"
    )

    # fast tier
    fast_points = [
        p
        for p in front.points
        if p.tokens_per_s_per_user >= fast_speed * chosen.tokens_per_s_per_user
    ]
    fast = None
    if fast_points:
        pick = min(fast_points, key=lambda p: p.usd_per_mtok_output)
        multiple = pick.usd_per_mtok_output / chosen.usd_per_mtok_output
        fast = DerivedFast(
            speed_requested=fast_speed,
            batch=pick.batch,
            speed_multiple=pick.tokens_per_s_per_user / chosen.tokens_per_s_per_user,
            price_multiple=multiple,
            output_usd_per_mtok=cost_out * markup * multiple,
        )
        assumptions.append(
            f"fast tier: batch {pick.batch} gives {fast.speed_multiple:.2f}× the tokens/s per user "
            f"of batch {b} at {multiple:.2f}× the output cost; input at the standard price"
        )
    else:
        assumptions.append(
            f"no fast tier: {fast_speed:g}× the tokens/s per user of batch {b} is out of reach here"
        )

    today = dt.date.today().isoformat()
    source = (
        f"infercost derived: {est.model} on {n}× {est.hardware}, margin {margin:g}, "
        f"utilization {utilization:g}, batch {b}, {isl}+{osl} tokens, {price_note}"
    )
    return DerivedSheet(
        model=est.model,
        hardware=est.hardware,
        chips=n,
        isl=isl,
        osl=osl,
        batch=b,
        tpot_ms=est.tpot_ms,
        margin=margin,
        utilization=utilization,
        price=price,
        usd_per_hour=p_hour * n,
        markup=markup,
        cost_input_usd_per_mtok=cost_in,
        cost_output_usd_per_mtok=cost_out,
        cost_cached_input_read_usd_per_mtok=cost_cached,
        input_usd_per_mtok=cost_in * markup,
        output_usd_per_mtok=cost_out * markup,
        cached_input_read_usd_per_mtok=None if cost_cached is None else cost_cached * markup,
        cache_ttl_s=cache_ttl_s,
        long_context=long_context,
        batch_tier_batch=best.batch,
        batch_discount=discount,
        fast=fast,
        context_window_tokens=spec.max_context,
        as_of=today,
        sheet_id=f"{PROVIDER}/{_slug(est.model)}-{n}x-{_slug(est.hardware)}",
        source=source,
        assumptions=assumptions,
    )


def _long_context(
    model: str,
    hardware: str,
    *,
    n: int,
    b: int,
    isl: int,
    osl: int,
    p_hour: float,
    threshold: int | None,
    front: Frontier,
    markup: float,
    ttl_s: float,
    standard: tuple[float, float],
    max_context: int | None,
    assumptions: list[str],
) -> DerivedLongContext | None:
    if threshold is not None:
        above, basis = threshold, "user input"
    else:
        crossings = [c for c in front.context_crossover if c.batch == b]
        if not crossings:
            crossings = frontier(
                model, hardware, chips=n, isl=isl, osl=osl, price_per_hour=p_hour, batches=[b]
            ).context_crossover
            crossings = [c for c in crossings if c.batch == b]
        cross = crossings[0] if crossings else None
        if cross is None or cross.context_tokens is None:
            assumptions.append(
                f"no long-context tier: KV reads stay below weight reads at batch {b}"
            )
            return None
        if cross.context_tokens > isl:
            above = cross.context_tokens
            basis = f"context where KV reads overtake weight reads at batch {b}"
        else:
            above = isl
            basis = (
                f"the sized prompt ({isl}): KV reads already overtake weight reads at "
                f"{cross.context_tokens:,} tokens at batch {b}"
            )
    priced_at = 2 * above
    if max_context is not None:
        priced_at = min(priced_at, max_context - osl)
    if priced_at <= above:
        assumptions.append(
            f"no long-context tier: the threshold {above:,} leaves no room below the model's "
            f"{max_context:,}-token window"
        )
        return None
    try:
        first = estimate(
            model, hardware, chips=n, batch=1, isl=priced_at, osl=osl, price_per_hour=p_hour
        )
    except DoesNotFitError:
        assumptions.append(f"no long-context tier: a {priced_at:,}-token prompt does not fit")
        return None
    lc_batch = max(1, min(b, int(first.max_concurrent_sequences)))
    est = (
        first
        if lc_batch == 1
        else estimate(
            model, hardware, chips=n, batch=lc_batch, isl=priced_at, osl=osl, price_per_hour=p_hour
        )
    )
    cost_in, cost_out = _costs(est)
    cost_in, cost_out = max(cost_in, standard[0]), max(cost_out, standard[1])
    hbm = _hbm_usd_per_mtok(est, ttl_s)
    cached = min(hbm if hbm is not None else cost_in, cost_in)
    assumptions.append(
        f"long context above {above:,} tokens ({basis}): re-estimated at a {priced_at:,}-token prompt, "
        f"batch {lc_batch} (what fits, at most {b}); never below the standard prices"
    )
    return DerivedLongContext(
        above_tokens=above,
        threshold_basis=basis,
        priced_at_isl=priced_at,
        batch=lc_batch,
        cost_input_usd_per_mtok=cost_in,
        cost_output_usd_per_mtok=cost_out,
        input_usd_per_mtok=cost_in * markup,
        output_usd_per_mtok=cost_out * markup,
        cached_input_read_usd_per_mtok=cached * markup,
    )


__all__ = ["DerivedFast", "DerivedLongContext", "DerivedSheet", "derive_sheet"]
