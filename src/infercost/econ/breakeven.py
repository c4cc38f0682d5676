"""Self-host vs API: the daily token volume above which running your own replicas is cheaper.

Volume V counts every token of the workload per day: prompt tokens (cached ones included) plus
output tokens, in the proportions of the workload mix.

* API: `V × (mean request cost ÷ mean tokens per request)`, the request cost from `request_cost_usd`
  on the sheet (cached reads at the sheet's cache price, long-context cliffs, standard tier).
* Self-host: `replicas × chips × $/chip-hour × 24`, replicas = ⌈V ÷ capacity⌉. One replica's capacity
  comes from the performance model at each class's batch: a request holds the replica for its prefill
  (the prompt's TTFT × the uncached share of the prompt: a cache hit skips that share of the work)
  plus `output tokens × TPOT ÷ batch` of decode, so requests/s = 1 ÷ the share-weighted mean of that;
  utilization < 1 scales the capacity (chips are paid for idle hours too).

Self-hosting is a step function of V: with one replica's cost per day `D`, capacity `C` and API cost
per token `a`, it is never cheaper when `D ÷ C ≥ a`; otherwise, with `r = D ÷ (a C)`, every volume
from `(K − 1) C` on is cheaper for `K = ⌈1 ÷ (1 − r)⌉`, and the last dearer volume is `(K − 1) D ÷ a`:
self-hosting stays cheaper above it (`stays_cheaper_above_tokens_per_day`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from infercost.econ.frontier import PriceSource, frontier
from infercost.econ.price_sheets import PriceSheet, describe_source, request_cost_usd
from infercost.errors import InfercostError
from infercost.estimation import estimate

SECONDS_PER_DAY = 86400.0
HOURS_PER_DAY = 24.0


class _Checked(BaseModel):
    """Frozen model whose validation errors surface as one-line `InfercostError`s."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            first = err.errors()[0]
            cause = (first.get("ctx") or {}).get("error")
            if isinstance(cause, InfercostError):
                raise InfercostError(cause.field, cause.value, cause.allowed) from None
            where = ".".join(str(p) for p in first["loc"]) or type(self).__name__
            raise InfercostError(where, first.get("input"), first["msg"]) from None


class RequestClass(_Checked):
    """One kind of request: prompt tokens (cached ones included), cached prompt tokens, output tokens."""

    input_tokens: int = Field(ge=1)
    cached_input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(ge=1)
    share: float = Field(1.0, gt=0)  # relative share of requests (normalized over the mix)

    @model_validator(mode="after")
    def _cached_within_prompt(self) -> RequestClass:
        if self.cached_input_tokens > self.input_tokens:
            raise InfercostError(
                "cached_input_tokens",
                self.cached_input_tokens,
                f"part of the prompt: at most input_tokens ({self.input_tokens})",
            )
        return self

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class WorkloadMix(_Checked):
    """Request classes with their shares of requests (one class: every request alike)."""

    classes: tuple[RequestClass, ...] = Field(min_length=1)

    @classmethod
    def single(
        cls, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0
    ) -> WorkloadMix:
        return cls(
            classes=(
                RequestClass(
                    input_tokens=input_tokens,
                    cached_input_tokens=cached_input_tokens,
                    output_tokens=output_tokens,
                ),
            )
        )

    @property
    def weights(self) -> list[float]:
        total = sum(c.share for c in self.classes)
        return [c.share / total for c in self.classes]

    @property
    def mean_tokens(self) -> float:
        return sum(w * c.tokens for w, c in zip(self.weights, self.classes, strict=True))


class ClassCapacity(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    share: float  # normalized
    batch: int
    ttft_ms: float  # one whole prompt
    prefill_s: float  # the uncached share of it
    tpot_ms: float
    replica_s_per_request: float  # prefill + output × TPOT ÷ batch
    api_usd_per_request: float


class CurvePoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    tokens_per_day: float
    api_usd_per_day: float
    self_host_usd_per_day: float
    replicas: int
    cheaper: str  # "self-host" or "api"


class BreakEven(BaseModel):
    model_config = ConfigDict(frozen=True)

    sheet: str
    sheet_source: str
    model: str
    hardware: str
    chips: int
    utilization: float
    price: PriceSource
    replica_usd_per_day: float
    classes: list[ClassCapacity]
    mean_tokens_per_request: float
    api_usd_per_mtok: float  # blended over the mix, all tokens
    replica_capacity_tokens_per_day: float  # at the utilization
    self_host_usd_per_mtok_full: float  # one full replica: D ÷ C
    first_cheaper_tokens_per_day: float | None  # D ÷ a: one replica first beats the API
    stays_cheaper_above_tokens_per_day: float | None  # None: the API is always cheaper
    stays_cheaper_replicas: int | None  # replicas at that volume
    curve: list[CurvePoint]
    assumptions: list[str]


def crossing(
    capacity: float, replica_usd_per_day: float, api_usd_per_token: float
) -> tuple[float | None, float | None, int | None]:
    """(first volume where one replica beats the API, last volume from which self-hosting is
    always cheaper above, replicas there); Nones when the API is always cheaper."""
    d, c, a = replica_usd_per_day, capacity, api_usd_per_token
    if a <= 0 or d / c >= a:
        return None, None, None
    r = d / (a * c)
    k = max(1, math.ceil(1.0 / (1.0 - r)))
    while k > 1 and (k - 1) * (1.0 - r) >= 1.0:  # guard against rounding up past the boundary
        k -= 1
    stays = (k - 1) * d / a
    return d / a, stays, max(1, math.ceil(stays / c))


def break_even(
    sheet: PriceSheet,
    model: str,
    hardware: str,
    *,
    mix: WorkloadMix,
    chips: int | None = None,
    utilization: float = 0.5,
    price_per_hour: float | None = None,
    batch: int | None = None,
    points: int = 41,
) -> BreakEven:
    """Daily volume above which serving `mix` on own replicas of `model` on `hardware` beats `sheet`."""
    if not (0 < utilization <= 1):
        raise InfercostError("utilization", utilization, "must be in (0, 1] (a fraction, not %)")
    if points < 2:
        raise InfercostError("points", points, "must be a whole number ≥ 2")
    weights = mix.weights
    rows: list[ClassCapacity] = []
    price: PriceSource | None = None
    n = chips
    for w, cls in zip(weights, mix.classes, strict=True):
        front = frontier(
            model,
            hardware,
            chips=n,
            isl=cls.input_tokens,
            osl=cls.output_tokens,
            price_per_hour=price_per_hour,
        )
        price, n = front.price, front.chips
        b = front.best.batch if batch is None else min(batch, front.max_concurrent_sequences)
        if b < 1:
            raise InfercostError("batch", batch, "must be a whole number ≥ 1")
        est = estimate(
            model,
            hardware,
            chips=n,
            batch=b,
            isl=cls.input_tokens,
            osl=cls.output_tokens,
            price_per_hour=price.usd_per_chip_hour,
        )
        uncached = (cls.input_tokens - cls.cached_input_tokens) / cls.input_tokens
        prefill_s = est.ttft_ms / 1e3 * uncached
        seconds = prefill_s + cls.output_tokens * est.tpot_ms / 1e3 / b
        api = request_cost_usd(
            sheet,
            input_tokens=cls.input_tokens,
            output_tokens=cls.output_tokens,
            cached_input_tokens=cls.cached_input_tokens,
        )
        rows.append(
            ClassCapacity(
                input_tokens=cls.input_tokens,
                cached_input_tokens=cls.cached_input_tokens,
                output_tokens=cls.output_tokens,
                share=w,
                batch=b,
                ttft_ms=est.ttft_ms,
                prefill_s=prefill_s,
                tpot_ms=est.tpot_ms,
                replica_s_per_request=seconds,
                api_usd_per_request=api,
            )
        )
    assert price is not None and n is not None
    mean_tokens = mix.mean_tokens
    mean_seconds = sum(r.share * r.replica_s_per_request for r in rows)
    mean_api = sum(r.share * r.api_usd_per_request for r in rows)
    api_per_token = mean_api / mean_tokens
    capacity = SECONDS_PER_DAY / mean_seconds * mean_tokens * utilization
    replica_day = price.usd_per_chip_hour * n * HOURS_PER_DAY
    first, stays, replicas = crossing(capacity, replica_day, api_per_token)

    anchor = stays if stays else (first or capacity)
    anchor = max(anchor, capacity)
    grid = np.geomspace(anchor / 1e3, anchor * 1e2, points)
    curve = []
    for v in grid:
        k = max(1, math.ceil(float(v) / capacity * (1 - 1e-12)))
        self_cost = k * replica_day
        api_cost = float(v) * api_per_token
        curve.append(
            CurvePoint(
                tokens_per_day=float(v),
                api_usd_per_day=api_cost,
                self_host_usd_per_day=self_cost,
                replicas=k,
                cheaper="self-host" if self_cost < api_cost else "api",
            )
        )
    price_text = (
        f"${price.usd_per_chip_hour:.2f}/chip-hour (user input)"
        if price.source == "user input"
        else f"${price.usd_per_chip_hour:.2f}/chip-hour ({price.source}, {price.as_of or 'undated'})"
    )
    assumptions = [
        "volume counts prompt tokens (cached included) plus output tokens, in the mix's proportions",
        f"API: {sheet.id} standard tier ({describe_source(sheet)}); cached reads at the sheet's "
        "cache price, long-context tiers where a prompt crosses them",
        f"self-host: whole replicas of {n}× {hardware} at {price_text}, paid 24 h a day",
        "a replica's capacity: prefill of the uncached share of each prompt (TTFT × uncached share, "
        "the cache skips that work) plus output × TPOT ÷ batch, at each class's memory-limited "
        "best batch"
        if batch is None
        else f"a replica's capacity: prefill of the uncached share of each prompt plus output × "
        f"TPOT ÷ batch, at batch {batch} (or what fits)",
        f"utilization {utilization:g}: capacity × {utilization:g} (idle hours are paid)",
    ]
    return BreakEven(
        sheet=sheet.id,
        sheet_source=describe_source(sheet),
        model=model,
        hardware=hardware,
        chips=n,
        utilization=utilization,
        price=price,
        replica_usd_per_day=replica_day,
        classes=rows,
        mean_tokens_per_request=mean_tokens,
        api_usd_per_mtok=api_per_token * 1e6,
        replica_capacity_tokens_per_day=capacity,
        self_host_usd_per_mtok_full=replica_day / capacity * 1e6,
        first_cheaper_tokens_per_day=first,
        stays_cheaper_above_tokens_per_day=stays,
        stays_cheaper_replicas=replicas,
        curve=curve,
        assumptions=assumptions,
    )


__all__ = [
    "BreakEven",
    "ClassCapacity",
    "CurvePoint",
    "RequestClass",
    "WorkloadMix",
    "break_even",
    "crossing",
]
