"""Right-sizing and routing: send each task class to the cheapest model its quality bar accepts, and
take the thinking path only where the class requires it.

The user states quality, not the toolkit: each task class lists the models acceptable for it
(`acceptable`) and whether it needs the thinking path (`thinking: true`, with the class's
`reasoning_multiplier`: output tokens on the thinking path ÷ a direct answer). Models are priced as
in `infercost cost` (`econ.workload_cost`): an API price sheet (latency from user-given TTFT/TPOT), or
a self-hosted deployment whose $/Mtok and latency come from `estimate()`. Each (class, model, path)
is one `cost_workload` call, so caching, long-context tiers and service tiers follow the same rules.

Per class the router picks, among the acceptable models meeting the class's latency limits
(`max_ttft_ms`, `max_e2e_ms`), the one with the lowest expected $ per task, where a routed task also
pays the router (`router.usd_per_request`, `router.latency_ms`) and a share `router.escalation_rate`
of tasks sent below the baseline model is retried on it (paying both, waiting for both).

Three policies are compared, per task and per day:

1. everything to the baseline (biggest) model, thinking on every task (`baseline.thinking: always`);
2. everything to the baseline model, thinking only where required;
3. routed: the cheapest acceptable model per class, thinking only where required.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from infercost.econ.workload_cost import Pricing, ThinkingTask, Volume, WorkloadSpec, cost_workload
from infercost.errors import InfercostError
from infercost.plan.spec_files import (
    InputSpec,
    NonNegative,
    Positive,
    Result,
    parse_spec,
    read_yaml_mapping,
)

Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
_SHARE_TOLERANCE = 1e-6


# --- the input file -----------------------------------------------------------------------------------


class RouteModel(InputSpec):
    name: Annotated[str, Field(min_length=1)]
    pricing: Pricing  # {sheet: PROVIDER/MODEL, ttft_ms, tpot_ms} or {self_hosted: {...}}


class TaskClass(InputSpec):
    name: Annotated[str, Field(min_length=1)]
    share: Annotated[float, Field(gt=0, le=1)]
    system_prompt_tokens: Annotated[int, Field(ge=0)] = 0
    input_tokens: Annotated[int, Field(ge=0)]
    output_tokens: Annotated[int, Field(ge=1)]
    acceptable: Annotated[tuple[str, ...], Field(min_length=1)]  # model names (the quality bar)
    thinking: bool = False  # the class needs the thinking path
    reasoning_multiplier: Annotated[float, Field(ge=1)] = (
        1.0  # output on the thinking path ÷ direct
    )
    max_ttft_ms: Positive | None = None
    max_e2e_ms: Positive | None = None

    @model_validator(mode="after")
    def _thinking(self) -> TaskClass:
        if self.thinking and self.reasoning_multiplier <= 1.0:
            raise InfercostError(
                "reasoning_multiplier", self.reasoning_multiplier, "> 1 when thinking is required"
            )
        return self


class Router(InputSpec):
    usd_per_request: NonNegative = 0.0  # the classifier's cost per task
    latency_ms: NonNegative = 0.0  # added before the first token
    escalation_rate: Fraction = 0.0  # of tasks routed below the baseline model, retried on it


class BaselinePolicy(InputSpec):
    model: str  # the biggest model: everything goes there without routing
    thinking: Literal["always", "as_required"] = "always"


class RouteSpec(InputSpec):
    name: str | None = None
    volume: Volume
    models: Annotated[tuple[RouteModel, ...], Field(min_length=1)]
    baseline: BaselinePolicy
    router: Router = Router()
    classes: Annotated[tuple[TaskClass, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _references(self) -> RouteSpec:
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise InfercostError("models[].name", names, "model names must be unique")
        if self.baseline.model not in names:
            raise InfercostError(
                "baseline.model", self.baseline.model, f"one of {', '.join(names)}"
            )
        for i, c in enumerate(self.classes):
            for m in c.acceptable:
                if m not in names:
                    raise InfercostError(
                        f"classes[{i}].acceptable", m, f"a model name: {', '.join(names)}"
                    )
        class_names = [c.name for c in self.classes]
        if len(set(class_names)) != len(class_names):
            raise InfercostError("classes[].name", class_names, "class names must be unique")
        total = sum(c.share for c in self.classes)
        if abs(total - 1.0) > _SHARE_TOLERANCE:
            raise InfercostError("classes[].share", round(total, 6), "the shares must sum to 1")
        return self


def parse_route(data: dict[str, Any]) -> RouteSpec:
    return parse_spec(RouteSpec, data)


def load_route(path: str | Path) -> RouteSpec:
    """A route file (see examples/route-*.yaml); mistakes are one-line errors naming the field."""
    file = Path(path)
    data = read_yaml_mapping(file, "route file")
    # relative sheet files are read from the route file's folder, as `infercost cost` does
    for m in data.get("models") or []:
        pricing = m.get("pricing") if isinstance(m, dict) else None
        if not isinstance(pricing, dict):
            continue
        ref = pricing.get("sheet")
        local = file.parent / str(ref)
        if isinstance(ref, str) and ref.endswith((".yaml", ".yml")) and local.is_file():
            pricing["sheet"] = str(local)
    return parse_route(data)


# --- results ------------------------------------------------------------------------------------------


class Option(Result):
    """One model for one class on one path: its cost and latency per task."""

    model: str
    thinking: bool
    usd_per_task: float
    ttft_ms: float | None
    e2e_ms: float | None
    acceptable: bool
    meets_latency: bool | None  # None: latency unknown (a sheet without ttft_ms/tpot_ms)
    note: str


class ClassRoute(Result):
    name: str
    share: float
    thinking: bool
    chosen: str
    usd_per_task: float  # router and escalations included
    ttft_ms: float | None
    e2e_ms: float | None
    baseline_usd_per_task: float  # the baseline model, thinking where required
    options: list[Option]


class Policy(Result):
    name: str
    usd_per_task: float  # traffic-weighted
    usd_per_day: float
    usd_per_month: float
    mean_ttft_ms: float | None
    mean_e2e_ms: float | None
    savings_vs_first_pct: float  # against policy 1


class RoutePlan(Result):
    name: str | None
    tasks_per_day: float
    days_per_month: float
    baseline_model: str
    classes: list[ClassRoute]
    policies: list[Policy]
    sources: dict[str, str]  # model name → where its prices and latency come from
    assumptions: list[str]


# --- pricing one class on one model -------------------------------------------------------------------


def _price(
    model: RouteModel, c: TaskClass, thinking: bool, field: str
) -> tuple[float, float | None, float | None, str]:
    """($ per task, TTFT ms, E2E ms, price source) of one class on one model and path."""
    task = ThinkingTask(
        kind="thinking",
        name=c.name,
        share=1.0,
        system_prompt_tokens=c.system_prompt_tokens,
        input_tokens=c.input_tokens,
        output_tokens=c.output_tokens,
        reasoning_multiplier=c.reasoning_multiplier,
        thinking_share=1.0 if thinking else 0.0,
    )
    try:
        result = cost_workload(
            WorkloadSpec(pricing=model.pricing, volume=Volume(per_day=1.0), tasks=(task,))
        )
    except InfercostError as err:
        raise InfercostError(f"{field}.{err.field}", err.value, err.allowed) from None
    tc = result.tasks[0]
    lat = tc.latency
    return (
        tc.usd_per_unit,
        None if lat is None else lat.ttft_ms,
        None if lat is None else lat.e2e_ms,
        f"{result.pricing}: {result.price_source}",
    )


def _meets(c: TaskClass, ttft: float | None, e2e: float | None) -> bool | None:
    if c.max_ttft_ms is None and c.max_e2e_ms is None:
        return True
    if (c.max_ttft_ms is not None and ttft is None) or (c.max_e2e_ms is not None and e2e is None):
        return None
    ok_ttft = c.max_ttft_ms is None or (ttft is not None and ttft <= c.max_ttft_ms)
    ok_e2e = c.max_e2e_ms is None or (e2e is not None and e2e <= c.max_e2e_ms)
    return ok_ttft and ok_e2e


def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def route(spec: RouteSpec | str | Path) -> RoutePlan:
    """Cost and latency of routing policies for a route file (or spec); see the module docstring."""
    if not isinstance(spec, RouteSpec):
        spec = load_route(spec)
    models = {m.name: m for m in spec.models}
    index = {m.name: i for i, m in enumerate(spec.models)}
    base = models[spec.baseline.model]
    r = spec.router
    cache: dict[tuple[str, str, bool], tuple[float, float | None, float | None, str]] = {}
    sources: dict[str, str] = {}

    def priced(m: str, c: TaskClass, thinking: bool) -> tuple[float, float | None, float | None]:
        key = (m, c.name, thinking)
        if key not in cache:
            cache[key] = _price(models[m], c, thinking, f"models[{index[m]}]")
            sources[m] = cache[key][3]
        usd, ttft, e2e, _ = cache[key]
        return usd, ttft, e2e

    routes: list[ClassRoute] = []
    always: list[tuple[float, float | None, float | None]] = []
    required: list[tuple[float, float | None, float | None]] = []
    for ci, c in enumerate(spec.classes):
        think = c.thinking
        b_usd, b_ttft, b_e2e = priced(base.name, c, think)
        required.append((b_usd, b_ttft, b_e2e))
        always_think = spec.baseline.thinking == "always" and c.reasoning_multiplier > 1.0
        always.append(priced(base.name, c, always_think or think))
        options: list[Option] = []
        for m in spec.models:
            usd, ttft, e2e = priced(m.name, c, think)
            ok = m.name in c.acceptable
            if m.name != base.name:  # routed below the baseline: router and escalations
                e = r.escalation_rate
                usd = usd + r.usd_per_request + e * b_usd
                ttft = _plus(ttft, r.latency_ms)
                e2e = _plus(_plus(e2e, r.latency_ms), None if b_e2e is None else e * b_e2e)
                if ttft is not None and b_ttft is not None:
                    ttft += e * b_ttft
            meets = _meets(c, ttft, e2e)
            note = (
                "not acceptable for this class"
                if not ok
                else "latency unknown: give pricing.ttft_ms/tpot_ms"
                if meets is None
                else "misses the class's latency limit"
                if not meets
                else ""
            )
            options.append(
                Option(
                    model=m.name,
                    thinking=think,
                    usd_per_task=usd,
                    ttft_ms=ttft,
                    e2e_ms=e2e,
                    acceptable=ok,
                    meets_latency=meets,
                    note=note,
                )
            )
        good = [o for o in options if o.acceptable and o.meets_latency]
        if not good:
            near = min(
                (o for o in options if o.acceptable),
                key=lambda o: o.e2e_ms if o.e2e_ms is not None else float("inf"),
            )
            raise InfercostError(
                f"classes[{ci}]",
                c.name,
                f"no acceptable model meets its latency limits; closest is {near.model} "
                f"(TTFT {near.ttft_ms if near.ttft_ms is not None else 'unknown'} ms, "
                f"E2E {near.e2e_ms if near.e2e_ms is not None else 'unknown'} ms)",
            )
        best = min(good, key=lambda o: (o.usd_per_task, o.e2e_ms or 0.0))
        routes.append(
            ClassRoute(
                name=c.name,
                share=c.share,
                thinking=think,
                chosen=best.model,
                usd_per_task=best.usd_per_task,
                ttft_ms=best.ttft_ms,
                e2e_ms=best.e2e_ms,
                baseline_usd_per_task=b_usd,
                options=options,
            )
        )

    shares = [c.share for c in spec.classes]
    routed = [(cr.usd_per_task, cr.ttft_ms, cr.e2e_ms) for cr in routes]
    thinking_label = (
        "thinking on every task" if spec.baseline.thinking == "always" else "thinking as required"
    )
    rows = [
        (f"all to {base.name}, {thinking_label}", always),
        (f"all to {base.name}, thinking only where required", required),
        ("routed: cheapest acceptable model, thinking only where required", routed),
    ]
    policies: list[Policy] = []
    first = None
    for name, per_class in rows:
        usd = sum(s * v[0] for s, v in zip(shares, per_class, strict=True))
        first = usd if first is None else first
        policies.append(
            Policy(
                name=name,
                usd_per_task=usd,
                usd_per_day=usd * spec.volume.per_day,
                usd_per_month=usd * spec.volume.per_day * spec.volume.days_per_month,
                mean_ttft_ms=_weighted(shares, [v[1] for v in per_class]),
                mean_e2e_ms=_weighted(shares, [v[2] for v in per_class]),
                savings_vs_first_pct=100.0 * (first - usd) / first if first > 0 else 0.0,
            )
        )
    return RoutePlan(
        name=spec.name,
        tasks_per_day=spec.volume.per_day,
        days_per_month=spec.volume.days_per_month,
        baseline_model=base.name,
        classes=routes,
        policies=policies,
        sources=sources,
        assumptions=[
            "quality is the user's: a class goes only to the models listed as acceptable for it",
            "costs and latency per task from `infercost cost` rules (API sheets, or estimate() for "
            "self-hosted deployments at full use of their batch)",
            f"router: ${r.usd_per_request:g} and {r.latency_ms:g} ms per routed task; "
            f"{r.escalation_rate:.0%} of tasks routed below {base.name} are retried on it",
            "thinking path: output × the class's reasoning_multiplier (reasoning billed as output)",
        ],
    )


def _weighted(shares: list[float], values: list[float | None]) -> float | None:
    if any(v is None for v in values):
        return None
    return sum(s * v for s, v in zip(shares, values, strict=True) if v is not None)


__all__ = [
    "ClassRoute",
    "Option",
    "Policy",
    "RoutePlan",
    "RouteSpec",
    "load_route",
    "parse_route",
    "route",
]
