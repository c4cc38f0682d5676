"""Workload costing: what a product's traffic costs a month, per task, and what each lever saves.

A workload file names the pricing (an API price sheet, or a self-hosted deployment whose $/Mtok and
latency come from `estimate()`), an optional smaller model for routing, a daily volume and a mix of
tasks. `cost_workload` returns, per task, the expected tokens of one unit (a request, or a session for
agents and voice) by billing class, $/unit, $/day, $/month, latency, and the effect of each lever from
seed 001 — a shorter system prompt, a higher response-cache hit rate, a share routed to a smaller
model, an output-token limit — as the new $/month and the delta at the stated volume.

Example (run with `infercost cost FILE.yaml`; see also examples/cost-agent.yaml, cost-mix.yaml)::

    name: support-agent
    pricing: {sheet: anthropic/claude-sonnet-4-5}      # catalog id, or a YAML sheet file
    # pricing: {self_hosted: {model: llama-3.1-70b, hardware: h100-sxm, chips: 4, batch: 32}}
    small_model: {sheet: anthropic/claude-haiku-4-5}   # optional: enables the routing lever
    volume: {per_day: 5000, days_per_month: 30}        # units per day: requests, or sessions
    levers:                                            # all optional; these are the defaults
      system_prompt_cut: 0.5        # system prompt shortened by 50 %
      response_cache_gain: 0.2      # response-cache hit rate +20 points (hits cost ~0)
      route_share: 0.3              # 30 % of traffic to small_model
      output_cap_fraction: 0.5      # cap output per call at 50 % of the task's mean
      # output_token_limit: 300     # or an absolute cap (tokens per call)
    tasks:
      - kind: agent
        name: triage
        share: 1.0                  # shares of per_day; they sum to 1
        turns: 6
        system_prompt_tokens: 4000
        user_tokens: 80             # per turn
        tool_output_tokens: 600     # per turn
        output_tokens: 200          # per turn
        seconds_between_turns: 20
        cache: {hit_rate: 0.9, ttl_s: 300}

Task kinds:

* `chat`, `classification`, `summarization`, `code`: one call of `system_prompt_tokens + input_tokens`
  prompt tokens and `output_tokens` output tokens.
* `agent`: `turns` calls in one session. Turn k's prompt is the system prompt plus every earlier turn's
  user message, answer and tool output, plus this turn's user message:
  `P_k = S + U + (k − 1)(U + O + R)`.
* `voice`: a real-time conversation of `minutes_per_session` with `turns_per_minute` turns (rounded to a
  whole number per session); each turn adds `input_tokens_per_turn` and an answer of
  `output_tokens_per_s × 60 × assistant_speech_share / turns_per_minute` tokens (rounded); context grows
  as for an agent. Reports $/hour and, when latency is known, whether the TTFT fits
  `latency_budget_ms` and whether decode keeps up with speech.
* `thinking`: a chat-like call of which `thinking_share` goes to a thinking path whose output is
  `output_tokens × reasoning_multiplier` (reasoning tokens are billed as output).

Prompt caching (`cache: {hit_rate, ttl_s}`): the cache breakpoint sits at the end of each prompt. On a
hit (probability `hit_rate`) a call reads its cached prefix — the system prompt on the first turn, the
previous turn's whole prompt after that — and on a miss it writes that prefix again. A call also writes
its new tokens when a later turn will read them. If `seconds_between_turns` exceeds `ttl_s` the
session's prefix has expired and only the shared system prompt can hit. Cache writes are billed at the
sheet's write price for its TTL; a longer `ttl_s` uses the sheet's 1-hour write price. Self-hosted:
cached reads skip prefill and cost nothing (holding the KV cache is not priced); writes are ordinary
prefill. Expected costs are `hit_rate × cost(hit) + (1 − hit_rate) × cost(miss)`, each from
`request_cost_usd`, so long-context cliffs, service tiers and batch discounts follow the sheet.

`response_cache_hit_rate` (per task, default 0) is the share of units answered from a response cache
at ~$0. Token counts are those of a unit the model answers; $/unit is the expectation over the response
cache. Latency is per call: TTFT and E2E (TTFT + TPOT × (output − 1)) from `estimate()` at the task's
mean prompt and output when self-hosted, from `ttft_ms`/`tpot_ms` when given for a sheet (user input),
null otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from infercost.econ.price_sheets import (
    TOKENS_PER_MTOK,
    USER_INPUT,
    PriceSheet,
    describe_source,
    load_price_sheets,
    price_sheet,
    request_cost_usd,
)
from infercost.errors import InfercostError
from infercost.estimation import estimate

ONE_HOUR_S = 3600.0
_SHARE_TOLERANCE = 1e-6

Fraction = Annotated[float, Field(ge=0, le=1)]
OpenFraction = Annotated[float, Field(gt=0, le=1)]
Count = Annotated[int, Field(ge=0)]
PositiveCount = Annotated[int, Field(gt=0)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the schema ---------------------------------------------------------------------------------------


class SelfHosted(_Spec):
    """A deployment priced by `estimate()`: $/Mtok input and output, TTFT and TPOT at the task's lengths.
    `price_per_hour` is USD per chip-hour (user input); without it the catalog's default price is used."""

    model: str
    hardware: str
    chips: PositiveCount | None = None
    batch: PositiveCount = 32
    price_per_hour: NonNegative | None = None
    weights: str | None = None


class Pricing(_Spec):
    """EITHER `sheet` (a catalog id `provider/model` or a YAML sheet file; optional service `tier`,
    `batch_api`, and user-given `ttft_ms`/`tpot_ms`) OR `self_hosted`."""

    sheet: str | None = None
    tier: str | None = None
    batch_api: bool = False
    ttft_ms: NonNegative | None = None
    tpot_ms: NonNegative | None = None
    self_hosted: SelfHosted | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Pricing:
        if (self.sheet is None) == (self.self_hosted is None):
            raise InfercostError(
                "sheet", self.sheet, "give exactly one of sheet: PROVIDER/MODEL and self_hosted"
            )
        if self.self_hosted is not None:
            for name in ("tier", "ttft_ms", "tpot_ms"):
                if getattr(self, name) is not None:
                    raise InfercostError(
                        name, getattr(self, name), "only with sheet (self_hosted uses estimate)"
                    )
            if self.batch_api:
                raise InfercostError("batch_api", True, "only with sheet")
        return self


class Volume(_Spec):
    """Units per day (a request, or a session for agent and voice tasks), split by task share."""

    per_day: Positive
    days_per_month: Positive = 30.0


class Levers(_Spec):
    """The seed-001 levers and their settings."""

    system_prompt_cut: OpenFraction = 0.5
    response_cache_gain: OpenFraction = 0.2
    route_share: OpenFraction = 0.3
    output_cap_fraction: OpenFraction = 0.5
    output_token_limit: PositiveCount | None = None


class Cache(_Spec):
    """Provider prompt caching (or the engine's prefix cache when self-hosted)."""

    hit_rate: Fraction
    ttl_s: Positive = 300.0


class _Task(_Spec):
    name: Annotated[str, Field(min_length=1)]
    share: OpenFraction
    response_cache_hit_rate: Annotated[float, Field(ge=0, lt=1)] = 0.0
    cache: Cache | None = None


class SimpleTask(_Task):
    kind: Literal["chat", "classification", "summarization", "code"]
    system_prompt_tokens: Count = 0
    input_tokens: Count
    output_tokens: PositiveCount


class AgentTask(_Task):
    kind: Literal["agent"]
    turns: PositiveCount
    system_prompt_tokens: Count = 0
    user_tokens: Count
    tool_output_tokens: Count = 0
    output_tokens: PositiveCount
    seconds_between_turns: NonNegative = 0.0


class VoiceTask(_Task):
    kind: Literal["voice"]
    minutes_per_session: Positive
    turns_per_minute: Positive
    output_tokens_per_s: Positive = 3.0
    assistant_speech_share: Annotated[float, Field(gt=0, lt=1)] = 0.5
    input_tokens_per_turn: Count
    system_prompt_tokens: Count = 0
    latency_budget_ms: Positive | None = None


class ThinkingTask(_Task):
    kind: Literal["thinking"]
    system_prompt_tokens: Count = 0
    input_tokens: Count
    output_tokens: PositiveCount
    reasoning_multiplier: Annotated[float, Field(ge=1)]
    thinking_share: Fraction


Task = Annotated[SimpleTask | AgentTask | VoiceTask | ThinkingTask, Field(discriminator="kind")]
TASK_KINDS = ("chat", "classification", "summarization", "code", "agent", "voice", "thinking")


class WorkloadSpec(_Spec):
    name: str | None = None
    pricing: Pricing
    small_model: Pricing | None = None
    volume: Volume
    levers: Levers = Levers()
    tasks: Annotated[tuple[Task, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _mix(self) -> WorkloadSpec:
        names = [t.name for t in self.tasks]
        if len(names) != len(set(names)):
            raise InfercostError("tasks", names, "task names must be unique")
        total = sum(t.share for t in self.tasks)
        if abs(total - 1.0) > _SHARE_TOLERANCE:
            raise InfercostError("tasks[].share", round(total, 6), "the shares must sum to 1")
        return self


# --- errors and loading -------------------------------------------------------------------------------


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(previous, int) and part in TASK_KINDS:
            previous = part
            continue  # the discriminated union's tag, not a key the user wrote
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        previous = part
    return out


def _spec_error(err: ValidationError) -> InfercostError:
    errors = err.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    where = _path(loc)
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, InfercostError):
        field = (
            cause.field
            if cause.field.startswith("tasks")
            else ".".join(p for p in (where, cause.field) if p)
        )
        return InfercostError(field, cause.value, cause.allowed)
    if first["type"] == "extra_forbidden":
        return InfercostError(where, first["input"], "unknown key")
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        value = first["input"].get("kind") if isinstance(first["input"], Mapping) else None
        return InfercostError(f"{where}.kind", value, f"allowed: {', '.join(TASK_KINDS)}")
    if first["type"] == "missing":
        return InfercostError(where or "workload", None, "required")
    allowed = str(first["msg"]).removeprefix("Value error, ")
    return InfercostError(where or "workload", first["input"], allowed[:1].lower() + allowed[1:])


def parse_workload(data: Any) -> WorkloadSpec:
    """A workload spec from parsed YAML; any mistake is one `InfercostError` naming the field path."""
    if not isinstance(data, Mapping):
        raise InfercostError("workload", data, "a mapping with pricing, volume and tasks")
    try:
        return WorkloadSpec.model_validate(data)
    except ValidationError as err:
        raise _spec_error(err) from None


def _resolve_sheet_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative sheet files are read from the workload file's folder when they exist there."""
    out = dict(data)
    for key in ("pricing", "small_model"):
        block = out.get(key)
        if isinstance(block, Mapping) and isinstance(block.get("sheet"), str):
            ref = block["sheet"]
            if ref.endswith((".yaml", ".yml")) and not Path(ref).is_absolute():
                candidate = base / ref
                if candidate.is_file():
                    out[key] = {**block, "sheet": str(candidate)}
    return out


def load_workload(path: str | Path) -> WorkloadSpec:
    """Read a workload YAML file (see the module docstring for the schema)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InfercostError("workload file", str(path), "no such file")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InfercostError("workload file", str(path), f"not valid YAML{where}") from None
    if isinstance(data, dict):
        data = _resolve_sheet_paths(data, file.parent)
    return parse_workload(data)


# --- results ------------------------------------------------------------------------------------------


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class Tokens(_Result):
    """Expected tokens of one unit the model answers, summed over its calls, by billing class. `input` is
    every prompt token; `cached` are read from the cache, `cache_write` written to it, `uncached` the
    rest; `output` includes `reasoning`."""

    calls: int
    input: float
    cached: float
    cache_write: float
    uncached: float
    output: float
    reasoning: float


class Latency(_Result):
    """Per call (means over a task's calls and paths). `source`: the estimate or "user input"."""

    ttft_ms: float
    tpot_ms: float | None
    e2e_ms: float | None
    source: str


class LeverEffect(_Result):
    lever: Literal["system_prompt", "response_cache", "routing", "output_limit"]
    setting: str
    usd_per_month: float
    delta_usd_per_month: float
    delta_pct: float


class TaskCost(_Result):
    name: str
    kind: str
    unit: Literal["request", "session"]
    units_per_day: float
    tokens: Tokens
    usd_per_unit: float
    usd_per_day: float
    usd_per_month: float
    usd_per_hour: float | None  # voice: per hour of conversation
    latency: Latency | None
    fits_latency_budget: bool | None  # voice: TTFT within latency_budget_ms
    keeps_up_with_speech: bool | None  # voice: decode tokens/s ≥ output_tokens_per_s
    levers: tuple[LeverEffect, ...]


class WorkloadCost(_Result):
    name: str | None
    price_source: str
    pricing: str
    small_model: str | None
    small_model_source: str | None
    units_per_day: float
    days_per_month: float
    tasks: tuple[TaskCost, ...]
    usd_per_day: float
    usd_per_month: float
    levers: tuple[LeverEffect, ...]
    assumptions: tuple[str, ...]


# --- calls --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    input_tokens: int
    output_tokens: int
    prefix_tokens: int  # read from the cache on a hit, written again on a miss
    new_write_tokens: int  # written for a later call to read
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class _Path:
    weight: float  # share of the task's units that take this path
    calls: tuple[_Call, ...]


@dataclass(frozen=True)
class _Shape:
    """How a lever changes a task: system prompt scale, output cap per call."""

    system_scale: float = 1.0
    output_cap: int | None = None


def _cap(tokens: int, cap: int | None) -> int:
    return tokens if cap is None else min(tokens, cap)


def _session(
    system: int, user: int, tool: int, output: int, turns: int, session_cached: bool
) -> tuple[_Call, ...]:
    calls = []
    previous = 0
    for k in range(1, turns + 1):
        prompt = system + user + (k - 1) * (user + output + tool)
        prefix = previous if (k > 1 and session_cached) else system
        writes_new = session_cached and k < turns
        calls.append(_Call(prompt, output, prefix, prompt - prefix if writes_new else 0))
        previous = prompt
    return tuple(calls)


def _voice_turns(task: VoiceTask) -> tuple[int, int]:
    """Turns per session and output tokens per turn (whole numbers, at least 1)."""
    turns = max(1, round(task.minutes_per_session * task.turns_per_minute))
    seconds_per_turn = 60.0 / task.turns_per_minute
    output = max(
        1, round(task.output_tokens_per_s * seconds_per_turn * task.assistant_speech_share)
    )
    return turns, output


def _system(tokens: int, shape: _Shape) -> int:
    return round(tokens * shape.system_scale)


def _paths(task: Task, shape: _Shape) -> tuple[_Path, ...]:
    session_cached = task.cache is not None
    if isinstance(task, SimpleTask):
        system = _system(task.system_prompt_tokens, shape)
        out = _cap(task.output_tokens, shape.output_cap)
        return (_Path(1.0, _session(system, task.input_tokens, 0, out, 1, session_cached)),)
    if isinstance(task, AgentTask):
        if task.cache is not None and task.seconds_between_turns > task.cache.ttl_s:
            session_cached = False
        system = _system(task.system_prompt_tokens, shape)
        out = _cap(task.output_tokens, shape.output_cap)
        calls = _session(
            system, task.user_tokens, task.tool_output_tokens, out, task.turns, session_cached
        )
        return (_Path(1.0, calls),)
    if isinstance(task, VoiceTask):
        turns, output = _voice_turns(task)
        if task.cache is not None and 60.0 / task.turns_per_minute > task.cache.ttl_s:
            session_cached = False
        system = _system(task.system_prompt_tokens, shape)
        out = _cap(output, shape.output_cap)
        calls = _session(system, task.input_tokens_per_turn, 0, out, turns, session_cached)
        return (_Path(1.0, calls),)
    system = _system(task.system_prompt_tokens, shape)
    direct = _cap(task.output_tokens, shape.output_cap)
    thought = _cap(round(task.output_tokens * task.reasoning_multiplier), shape.output_cap)
    (plain,) = _session(system, task.input_tokens, 0, direct, 1, session_cached)
    (think,) = _session(system, task.input_tokens, 0, thought, 1, session_cached)
    think = _Call(
        think.input_tokens,
        think.output_tokens,
        think.prefix_tokens,
        think.new_write_tokens,
        reasoning_tokens=max(0, thought - direct),
    )
    paths = (_Path(1.0 - task.thinking_share, (plain,)), _Path(task.thinking_share, (think,)))
    return tuple(p for p in paths if p.weight > 0)


def _mean_output(paths: tuple[_Path, ...]) -> float:
    calls = sum(p.weight * len(p.calls) for p in paths)
    return sum(p.weight * sum(c.output_tokens for c in p.calls) for p in paths) / calls


def _tokens(paths: tuple[_Path, ...], hit_rate: float | None) -> Tokens:
    h = hit_rate or 0.0
    cached = write = inp = out = reasoning = calls = 0.0
    for p in paths:
        for c in p.calls:
            inp += p.weight * c.input_tokens
            out += p.weight * c.output_tokens
            reasoning += p.weight * c.reasoning_tokens
            calls += p.weight
            if hit_rate is not None:
                cached += p.weight * h * c.prefix_tokens
                write += p.weight * (c.new_write_tokens + (1 - h) * c.prefix_tokens)
    return Tokens(
        calls=round(calls),
        input=inp,
        cached=cached,
        cache_write=write,
        uncached=inp - cached - write,
        output=out,
        reasoning=reasoning,
    )


# --- pricing ------------------------------------------------------------------------------------------


def _with_write_ttl(sheet: PriceSheet, ttl_s: float, field: str) -> PriceSheet:
    """The sheet whose cache-write price is the one for `ttl_s`: its default write TTL, or its 1-hour
    write price for a longer TTL (every tier that prices writes switches with it)."""
    default = sheet.cache_write_ttl_s
    if default is None or ttl_s <= default:
        return sheet
    if ttl_s > ONE_HOUR_S or sheet.cached_input_write_1h_usd_per_mtok is None:
        limit = ONE_HOUR_S if sheet.cached_input_write_1h_usd_per_mtok is not None else default
        raise InfercostError(field, ttl_s, f"at most {limit:g} s for {sheet.id} (its cache TTLs)")

    def one_hour(prices: Any) -> dict[str, Any]:
        price = prices.cached_input_write_1h_usd_per_mtok
        return {} if price is None else {"cached_input_write_usd_per_mtok": price}

    return sheet.model_copy(
        update={
            **one_hour(sheet),
            "long_context": tuple(lc.model_copy(update=one_hour(lc)) for lc in sheet.long_context),
            "tiers": tuple(
                t.model_copy(
                    update={
                        **one_hour(t),
                        "long_context": tuple(
                            lc.model_copy(update=one_hour(lc)) for lc in t.long_context
                        ),
                    }
                )
                for t in sheet.tiers
            ),
        }
    )


@dataclass(frozen=True)
class _Priced:
    """A resolved pricing block."""

    spec: Pricing
    label: str
    source: str
    sheet: PriceSheet | None

    def cost(
        self, paths: tuple[_Path, ...], cache: Cache | None, field: str
    ) -> tuple[float, Latency | None]:
        """Expected $ per unit and mean per-call latency."""
        if self.sheet is not None:
            return self._sheet_cost(self.sheet, paths, cache, field), self._given_latency(paths)
        return self._self_hosted_cost(paths, cache)

    def _sheet_cost(
        self, sheet: PriceSheet, paths: tuple[_Path, ...], cache: Cache | None, field: str
    ) -> float:
        spec = self.spec
        if cache is not None:
            sheet = _with_write_ttl(sheet, cache.ttl_s, f"{field}.cache.ttl_s")

        def one(c: _Call, cached: int, written: int) -> float:
            return request_cost_usd(
                sheet,
                input_tokens=c.input_tokens,
                output_tokens=c.output_tokens,
                cached_input_tokens=cached,
                cache_write_tokens=written,
                batch=spec.batch_api,
                tier=spec.tier,
            )

        usd = 0.0
        for p in paths:
            for c in p.calls:
                if cache is None:
                    call_usd = one(c, 0, 0)
                else:
                    h = cache.hit_rate
                    hit = one(c, c.prefix_tokens, c.new_write_tokens) if h > 0 else 0.0
                    miss = one(c, 0, c.prefix_tokens + c.new_write_tokens) if h < 1 else 0.0
                    call_usd = h * hit + (1 - h) * miss
                usd += p.weight * call_usd
        return usd

    def _given_latency(self, paths: tuple[_Path, ...]) -> Latency | None:
        ttft, tpot = self.spec.ttft_ms, self.spec.tpot_ms
        if ttft is None:
            return None
        e2e = None if tpot is None else ttft + tpot * max(0.0, _mean_output(paths) - 1)
        return Latency(ttft_ms=ttft, tpot_ms=tpot, e2e_ms=e2e, source=USER_INPUT)

    def _self_hosted_cost(
        self, paths: tuple[_Path, ...], cache: Cache | None
    ) -> tuple[float, Latency]:
        hosted = self.spec.self_hosted
        assert hosted is not None
        usd = ttft = tpot = e2e = weight = 0.0
        for p in paths:
            n = len(p.calls)
            isl = max(1, round(sum(c.input_tokens for c in p.calls) / n))
            osl = max(1, round(sum(c.output_tokens for c in p.calls) / n))
            est = _estimate(hosted, isl, osl)
            assert est.usd_per_mtok_input is not None and est.usd_per_mtok_output is not None
            h = 0.0 if cache is None else cache.hit_rate
            prefilled = sum(c.input_tokens - h * c.prefix_tokens for c in p.calls)
            out = sum(c.output_tokens for c in p.calls)
            usd += p.weight * (prefilled * est.usd_per_mtok_input + out * est.usd_per_mtok_output)
            w = p.weight * n
            ttft += w * est.ttft_ms
            tpot += w * est.tpot_ms
            e2e += w * (est.ttft_ms + est.tpot_ms * (osl - 1))
            weight += w
        latency = Latency(
            ttft_ms=ttft / weight,
            tpot_ms=tpot / weight,
            e2e_ms=e2e / weight,
            source=f"estimate: {hosted.model} on {hosted.hardware}, batch {hosted.batch}",
        )
        return usd / TOKENS_PER_MTOK, latency


def _estimate(hosted: SelfHosted, isl: int, osl: int) -> Any:
    return estimate(
        hosted.model,
        hosted.hardware,
        chips=hosted.chips,
        batch=hosted.batch,
        isl=isl,
        osl=osl,
        price_per_hour=hosted.price_per_hour,
        weights=hosted.weights,
    )


def _resolve(spec: Pricing, field: str) -> _Priced:
    if spec.sheet is not None:
        ref = spec.sheet
        try:
            if ref.endswith((".yaml", ".yml")):
                sheets = load_price_sheets(ref)
                if len(sheets) != 1:
                    ids = ", ".join(s.id for s in sheets)
                    raise InfercostError("sheet", ref, f"a file with one sheet (this has {ids})")
                sheet = sheets[0]
            else:
                sheet = price_sheet(ref)
            # a bad tier or batch is refused now, not in the middle of the costing
            request_cost_usd(
                sheet, input_tokens=1, output_tokens=1, batch=spec.batch_api, tier=spec.tier
            )
        except InfercostError as err:
            key = {"tier": "tier", "batch": "batch_api"}.get(err.field, "sheet")
            inner = "" if err.field in ("tier", "batch", "sheet", "price sheet") else err.field
            where = f"{field}.{key}" + (f" ({inner})" if inner else "")
            raise InfercostError(where, err.value, err.allowed) from None
        label = (
            sheet.id
            + (f" ({spec.tier})" if spec.tier else "")
            + (" (batch)" if spec.batch_api else "")
        )
        source = describe_source(sheet)
        if spec.ttft_ms is not None or spec.tpot_ms is not None:
            source += "; latency: user input"
        return _Priced(spec, label, source, sheet)
    hosted = spec.self_hosted
    assert hosted is not None
    try:
        est = _estimate(hosted, 1024, 256)
    except InfercostError as err:
        raise InfercostError(f"{field}.self_hosted.{err.field}", err.value, err.allowed) from None
    if est.usd_per_chip_hour is None:
        raise InfercostError(
            f"{field}.self_hosted.price_per_hour",
            None,
            f"required: the catalog has no price for {est.hardware}",
        )
    prov = est.provenance
    price = (
        USER_INPUT
        if hosted.price_per_hour is not None
        else f"{prov.price_source}, {prov.price_as_of or 'undated'}"
    )
    label = f"self-hosted {est.model} on {est.chips}× {est.hardware}, batch {hosted.batch}"
    source = f"${est.usd_per_chip_hour:g}/chip-hour: {price}; $/Mtok and latency from estimate()"
    return _Priced(spec, label, source, None)


# --- costing ------------------------------------------------------------------------------------------


def _task_field(spec: WorkloadSpec, task: Task) -> str:
    return f"tasks[{spec.tasks.index(task)}]"


def _unit_usd(
    priced: _Priced, task: Task, shape: _Shape, field: str
) -> tuple[float, Latency | None, tuple[_Path, ...]]:
    """$ per unit the model answers (before the response cache), latency and the paths."""
    paths = _paths(task, shape)
    usd, latency = priced.cost(paths, task.cache, field)
    return usd, latency, paths


def _effect(
    lever: Literal["system_prompt", "response_cache", "routing", "output_limit"],
    setting: str,
    usd_per_month: float,
    base: float,
) -> LeverEffect:
    delta = usd_per_month - base
    return LeverEffect(
        lever=lever,
        setting=setting,
        usd_per_month=usd_per_month,
        delta_usd_per_month=delta,
        delta_pct=100.0 * delta / base if base > 0 else 0.0,
    )


def _cost_task(spec: WorkloadSpec, task: Task, main: _Priced, small: _Priced | None) -> TaskCost:
    field = _task_field(spec, task)
    units_per_day = spec.volume.per_day * task.share
    month = units_per_day * spec.volume.days_per_month
    r = task.response_cache_hit_rate
    model_usd, latency, paths = _unit_usd(main, task, _Shape(), field)
    usd = (1 - r) * model_usd
    lv = spec.levers

    levers = []
    system = task.system_prompt_tokens
    cut = _system(system, _Shape(system_scale=1 - lv.system_prompt_cut))
    shorter, _, _ = _unit_usd(main, task, _Shape(system_scale=1 - lv.system_prompt_cut), field)
    levers.append(
        _effect(
            "system_prompt",
            f"system prompt {system} → {cut} tokens (−{lv.system_prompt_cut:.0%})",
            (1 - r) * shorter * month,
            usd * month,
        )
    )
    r_new = min(1.0, r + lv.response_cache_gain)
    levers.append(
        _effect(
            "response_cache",
            f"response-cache hit rate {r:.0%} → {r_new:.0%}",
            (1 - r_new) * model_usd * month,
            usd * month,
        )
    )
    if small is not None:
        small_usd, _ = small.cost(paths, task.cache, field)
        z = lv.route_share
        levers.append(
            _effect(
                "routing",
                f"{z:.0%} to {small.label}",
                (1 - r) * ((1 - z) * model_usd + z * small_usd) * month,
                usd * month,
            )
        )
    mean_out = _mean_output(paths)
    cap = lv.output_token_limit or max(1, round(lv.output_cap_fraction * mean_out))
    capped, _, _ = _unit_usd(main, task, _Shape(output_cap=cap), field)
    levers.append(
        _effect(
            "output_limit",
            f"output ≤ {cap} tokens per call (mean {mean_out:.0f})",
            (1 - r) * capped * month,
            usd * month,
        )
    )

    per_hour = fits = keeps_up = None
    if isinstance(task, VoiceTask):
        per_hour = usd * 60.0 / task.minutes_per_session
        if latency is not None and task.latency_budget_ms is not None:
            fits = latency.ttft_ms <= task.latency_budget_ms
        if latency is not None and latency.tpot_ms:
            keeps_up = 1000.0 / latency.tpot_ms >= task.output_tokens_per_s
    return TaskCost(
        name=task.name,
        kind=task.kind,
        unit="session" if isinstance(task, AgentTask | VoiceTask) else "request",
        units_per_day=units_per_day,
        tokens=_tokens(paths, None if task.cache is None else task.cache.hit_rate),
        usd_per_unit=usd,
        usd_per_day=usd * units_per_day,
        usd_per_month=usd * month,
        usd_per_hour=per_hour,
        latency=latency,
        fits_latency_budget=fits,
        keeps_up_with_speech=keeps_up,
        levers=tuple(levers),
    )


def _assumptions(spec: WorkloadSpec, main: _Priced) -> tuple[str, ...]:
    notes = [
        "token counts are means per unit; every unit of a task has the same lengths",
        "response-cache hits cost ~$0; routed traffic keeps the task's lengths on the small model",
        "prompt caching: a hit reads the cached prefix, a miss writes it again; "
        "new tokens are written only when a later turn reads them",
        "output limit: outputs above the cap are cut to it; shorter outputs also shrink agent context",
    ]
    if main.sheet is None or (spec.small_model is not None and spec.small_model.sheet is None):
        notes.append(
            "self-hosted: $/Mtok from estimate() at each task's mean prompt and output, at full "
            "utilization of the batch; cached prefixes skip prefill at $0 (KV retention not priced)"
        )
    if main.sheet is not None and main.spec.ttft_ms is None:
        notes.append("API latency unknown: give pricing.ttft_ms (and tpot_ms) to report it")
    return tuple(notes)


def cost_workload(spec: WorkloadSpec | str | Path) -> WorkloadCost:
    """Cost, latency and lever effects of a workload (a spec, or a path to its YAML file)."""
    if not isinstance(spec, WorkloadSpec):
        spec = load_workload(spec)
    main = _resolve(spec.pricing, "pricing")
    small = None if spec.small_model is None else _resolve(spec.small_model, "small_model")
    tasks = tuple(_cost_task(spec, t, main, small) for t in spec.tasks)
    total_month = sum(t.usd_per_month for t in tasks)
    kinds = [e.lever for e in tasks[0].levers]
    totals = []
    for i, lever in enumerate(kinds):
        month = sum(t.levers[i].usd_per_month for t in tasks)
        settings = {t.levers[i].setting for t in tasks}
        setting = settings.pop() if len(settings) == 1 else _total_setting(lever, spec.levers)
        totals.append(_effect(lever, setting, month, total_month))
    return WorkloadCost(
        name=spec.name,
        price_source=main.source,
        pricing=main.label,
        small_model=None if small is None else small.label,
        small_model_source=None if small is None else small.source,
        units_per_day=spec.volume.per_day,
        days_per_month=spec.volume.days_per_month,
        tasks=tasks,
        usd_per_day=sum(t.usd_per_day for t in tasks),
        usd_per_month=total_month,
        levers=tuple(totals),
        assumptions=_assumptions(spec, main),
    )


def _total_setting(lever: str, lv: Levers) -> str:
    if lever == "system_prompt":
        return f"system prompts −{lv.system_prompt_cut:.0%}"
    if lever == "response_cache":
        return f"response-cache hit rate +{lv.response_cache_gain:.0%} points"
    if lever == "output_limit":
        if lv.output_token_limit is not None:
            return f"output ≤ {lv.output_token_limit} tokens per call"
        return f"output ≤ {lv.output_cap_fraction:.0%} of each task's mean per call"
    return f"{lv.route_share:.0%} routed"


__all__ = [
    "AgentTask",
    "Cache",
    "Latency",
    "LeverEffect",
    "Levers",
    "Pricing",
    "SelfHosted",
    "SimpleTask",
    "TaskCost",
    "ThinkingTask",
    "Tokens",
    "VoiceTask",
    "Volume",
    "WorkloadCost",
    "WorkloadSpec",
    "cost_workload",
    "load_workload",
    "parse_workload",
]
