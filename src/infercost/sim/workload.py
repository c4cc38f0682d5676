"""Workloads for the request-level simulator: the `workload:` section of a scenario YAML.

A workload is an arrival process, one or more request classes (each with its own lengths, optional
shared system prompt, reasoning tail, multi-turn agent sessions and SLO), and a stop rule.
`generate(spec)` turns it into a lazy, seeded stream of `RequestSpec`s: random numbers are drawn in
vectorized blocks of `BLOCK` and requests are yielded one at a time, so a workload of any size costs
memory for one block only.

```yaml
workload:
  seed: 7
  requests: 20000            # stop after this many requests (every turn counts) ...
  duration_s: 3600           # ... or at the first arrival after this time (either or both)
  arrival:                   # poisson | gamma | constant | curve | trace | closed
    kind: gamma
    rate_rps: 12.0           # mean requests (sessions, for session classes) per second
    cv: 2.5                  # coefficient of variation of the gaps; > 1 is burstier than Poisson
  classes:
    - name: chat
      weight: 0.7            # share of arrivals
      system_prompt: {key: chat-sys, tokens: 900}   # shared prefix, counted in the prompt
      prompt: {kind: lognormal, median: 600, sigma: 1.0, max: 16000}  # tokens after the system prompt
      output: {kind: lognormal, median: 250, sigma: 0.8, max: 4096}
      slo: {ttft_ms: 800, tpot_ms: 50, percentile: 99}
    - name: reasoning
      weight: 0.1
      prompt: {kind: uniform, low: 200, high: 2000}
      output: 300                                    # a bare number is `{kind: fixed, tokens: 300}`
      reasoning: {share: 0.6, tokens: {kind: lognormal, mean: 4000, sigma: 1.2, max: 32000}}
    - name: agent
      weight: 0.2
      system_prompt: {key: agent-sys, tokens: 4000}
      session:
        turns: {kind: uniform, low: 3, high: 12}
        user_tokens: {kind: lognormal, median: 80, sigma: 0.6}
        tool_output_tokens: {kind: empirical, path: tool_tokens.csv}  # relative to the YAML file
        output: {kind: lognormal, median: 150, sigma: 0.7}
        think_s: {kind: exponential, mean_s: 2.0}    # or a number of seconds
        max_context_tokens: 128000                   # the session ends before passing this
      slo: {ttft_ms: 2000, e2e_ms: 30000}
```

Arrival kinds (`rate_rps` is per simulated second):

- `poisson {rate_rps}`: exponential gaps; the first arrival is one gap after 0.
- `gamma {rate_rps, cv}`: gamma gaps with shape 1/cv²; cv = 1 is Poisson.
- `constant {rate_rps}`: arrivals at exactly 0, 1/r, 2/r, ...
- `curve {points: [[hour_of_day, rate_rps], ...], period_s: 86400, start_hour: 0}`: a
  non-homogeneous Poisson process (thinning) whose rate is piecewise linear in the hour of the day,
  wrapping from the last point back to the first. The run starts at `start_hour`; `period_s` is how
  many simulated seconds one day takes (3600 plays the day in an hour).
- `trace {path, format: azure|burstgpt|mooncake, time_scale: 1, rate_scale, loop: false,
  lengths_from: trace}`: replays a trace file (`infercost.sim.traces`). Arrival times are multiplied
  by `time_scale` or divided by `rate_scale` (give one). With `loop`, the trace repeats, one mean
  gap after its last row. With `lengths_from: trace` the trace's prompt and output lengths (and a
  Mooncake trace's prefix chain) are used and classes only label requests (name, weight, SLO);
  `lengths_from: classes` takes only the times.
- `closed {concurrency, think_s: 0}`: a closed loop. The generator yields requests with
  `arrival_s = 0`; the simulator keeps `concurrency` of them in flight and sends the next one
  `think_s` after one finishes (`WorkloadSpec.concurrency`, `WorkloadSpec.closed_think_s`).

Lengths (`prompt`, `output`, reasoning `tokens`, session lengths) are `fixed {tokens}` (or a bare
number), `uniform {low, high}` (inclusive), `lognormal {median | mean, sigma, min: 1, max}`, or
`empirical {path | values, column}` (token counts drawn with replacement from a CSV or text file, one
count per line or a CSV column chosen by `column`, header optional; relative paths are resolved
against the scenario file's directory). Every draw is rounded and clipped to ≥ 1 (and at most 10⁹;
a larger count given in a spec or file is refused). Durations (`think_s`) are a number of seconds,
`exponential {mean_s}`, `uniform {low_s, high_s}` or
`lognormal {median_s | mean_s, sigma, max_s}`.

Requests of a class: `prompt_tokens` = system prompt + the `prompt` draw; `prefix` is the system
prompt segment `(key, tokens)` (if any); `output_tokens` = the `output` draw, plus a `reasoning` draw
for a `share` of requests (reasoning tokens are output tokens: a heavy tail of long generations).

Sessions (multi-turn agents): each arrival of a session class starts a session of `turns` turns.
Turn k adds `new_k` = user tokens (+ tool output tokens for k ≥ 1: the result of the previous turn's
tool call) and generates `out_k` tokens (plus reasoning, kept in the context). Its prompt is the
system prompt + every earlier turn's `new + out` + `new_k`; its `prefix` is
`(system segment, ("s{session}-t0", new_0 + out_0), ..., ("s{session}-t{k-1}", ...))` and it
`publishes` `"s{session}-t{k}"` of `new_k + out_k` tokens, so turn k+1's prefix is exactly turn k's
prefix plus the segment turn k publishes. The first turn arrives by the arrival process. The later
turns of a session are yielded immediately after it, consecutively, carrying `session`, `turn` and
`think_s`; their `arrival_s` (previous turn's `arrival_s` + `think_s`) is only a lower bound — the
simulator must hold each of them until the previous turn of the same session finishes, then wait
`think_s`. `weight` of a session class is its share of *sessions* (arrivals), not of requests.

Stop rule: `requests` caps the number of yielded requests (every turn counts; the last session may
be cut short); `duration_s` stops at the first *first-turn* arrival after it (later turns of sessions
already started are still yielded). At least one is required unless the arrival is a trace without
`loop` (or a closed loop, where the simulator stops at `duration_s`).

Ordering and determinism: first-turn arrivals are nondecreasing; ids are 0, 1, 2, ... in yield
order; the same spec and seed give the same stream. Arrivals, class choice and each class's lengths
draw from separate seeded streams, so changing one class's lengths leaves arrival times and the
other classes unchanged (common random numbers across scenarios).
"""

from __future__ import annotations

import csv
import itertools
import math
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from infercost.errors import InfercostError
from infercost.sim.request import RequestSpec, Segment
from infercost.sim.traces import TraceFormat, read_trace
from infercost.specs.model import Frozen

BLOCK = 4096  # random numbers are drawn this many at a time
_MAX_TOKENS = 10**9  # draws are capped here before the cast to integers (no overflow)
_MAX_SECONDS = 1e9

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Sampler = Callable[[np.random.Generator, int], IntArray]
DurationSampler = Callable[[np.random.Generator, int], FloatArray]


# --- files ------------------------------------------------------------------------------------


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are resolved against `base_dir` from the validation context (if given)."""
    base = (info.context or {}).get("base_dir")
    if base is None:
        return value
    path = value if value.is_absolute() else Path(base) / value
    if not path.is_file():
        raise InfercostError("", str(value), f"no such file (looked for {path})")
    return path


def _under(path: Path, base_dir: Path) -> Path:
    return path if path.is_absolute() else base_dir / path


def read_token_counts(path: str | Path, column: str | int | None = None) -> IntArray:
    """Token counts from a text file (one per line) or a CSV column (header optional).

    Blank lines and lines starting with `#` are skipped. With a header row, `column` names the
    column (needed when there are several); without one, `column` is a 0-based index (default 0).
    """
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")  # tolerate a BOM
    except OSError as err:
        raise InfercostError(
            "empirical.path", str(path), f"cannot be read ({err.strerror})"
        ) from None
    counts: list[float] = []
    index: int | None = None
    with handle:
        reader = csv.reader(handle)
        for row in reader:
            cells = [c.strip() for c in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if index is None:
                index = _count_column(cells, column, path, reader.line_num)
                if _is_header(cells):
                    continue
            try:
                value = float(cells[index])
            except (ValueError, IndexError):
                value = math.nan
            if not math.isfinite(value) or not 0 <= value <= _MAX_TOKENS:
                raise InfercostError(
                    f"{path}:{reader.line_num}",
                    ",".join(row),
                    f"expected a token count from 0 to {_MAX_TOKENS} in column {index}",
                )
            counts.append(value)
    if not counts:
        raise InfercostError("empirical.path", str(path), "holds no token counts")
    return np.rint(np.asarray(counts, dtype=np.float64)).astype(np.int64)


def _is_header(cells: list[str]) -> bool:
    try:
        for c in cells:
            if c:
                float(c)
    except ValueError:
        return True
    return False


def _count_column(cells: list[str], column: str | int | None, path: Path, line: int) -> int:
    if _is_header(cells):
        if isinstance(column, str):
            if column not in cells:
                raise InfercostError(
                    "empirical.column", column, f"not a column of {path} ({', '.join(cells)})"
                )
            return cells.index(column)
        if column is None:
            if len(cells) > 1:
                raise InfercostError(
                    "empirical.column", None, f"{path} has columns {', '.join(cells)}; name one"
                )
            return 0
        index = column
    else:
        if isinstance(column, str):
            raise InfercostError(
                "empirical.column", column, f"{path} has no header row; give a 0-based index"
            )
        index = column or 0
    if not 0 <= index < len(cells):
        raise InfercostError("empirical.column", column, f"{path}:{line} has {len(cells)} columns")
    return index


# --- lengths (tokens) -------------------------------------------------------------------------


class _Length(Frozen):
    def sampler(self, base_dir: Path = Path(".")) -> Sampler:
        """A function `(rng, n) -> n token counts ≥ 1`; files are read once, here."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> IntArray:
        """`n` token counts ≥ 1 (files relative to the working directory; see `sampler`)."""
        return self.sampler()(rng, n)


class FixedLength(_Length):
    """Always `tokens`."""

    kind: Literal["fixed"] = "fixed"
    tokens: int = Field(ge=1, le=_MAX_TOKENS)

    def sampler(self, base_dir: Path = Path(".")) -> Sampler:
        tokens = self.tokens
        return lambda rng, n: np.full(n, tokens, dtype=np.int64)


class UniformLength(_Length):
    """Integers from `low` to `high`, both included, equally likely."""

    kind: Literal["uniform"] = "uniform"
    low: int = Field(ge=1, le=_MAX_TOKENS)
    high: int = Field(ge=1, le=_MAX_TOKENS)

    @model_validator(mode="after")
    def _ordered(self) -> UniformLength:
        if self.high < self.low:
            raise InfercostError("high", self.high, f"must be ≥ low ({self.low})")
        return self

    def sampler(self, base_dir: Path = Path(".")) -> Sampler:
        low, high = self.low, self.high
        return lambda rng, n: rng.integers(low, high + 1, size=n, dtype=np.int64)


class LognormalLength(_Length):
    """exp(N(ln median, sigma²)) rounded and clipped to [min, max]; give `median` or `mean`.

    `mean` is the mean of the unclipped distribution: median = mean · exp(−sigma²/2).
    """

    kind: Literal["lognormal"] = "lognormal"
    median: float | None = Field(None, gt=0, allow_inf_nan=False)
    mean: float | None = Field(None, gt=0, allow_inf_nan=False)
    sigma: float = Field(ge=0, le=10)
    min: int = Field(1, ge=1, le=_MAX_TOKENS)
    max: int | None = Field(None, ge=1, le=_MAX_TOKENS)

    @model_validator(mode="after")
    def _one_centre(self) -> LognormalLength:
        if (self.median is None) == (self.mean is None):
            raise InfercostError("median", self.median, "give exactly one of median and mean")
        if self.max is not None and self.max < self.min:
            raise InfercostError("max", self.max, f"must be ≥ min ({self.min})")
        return self

    @property
    def median_tokens(self) -> float:
        if self.median is not None:
            return self.median
        assert self.mean is not None
        return self.mean * math.exp(-(self.sigma**2) / 2)

    def sampler(self, base_dir: Path = Path(".")) -> Sampler:
        mu, sigma = math.log(self.median_tokens), self.sigma
        low, high = self.min, self.max

        def draw(rng: np.random.Generator, n: int) -> IntArray:
            values = np.rint(np.exp(rng.normal(mu, sigma, n)))
            return np.clip(values, low, high if high is not None else _MAX_TOKENS).astype(np.int64)

        return draw


class EmpiricalLength(_Length):
    """Draws (with replacement) from recorded token counts: a file (`path`) or a list (`values`)."""

    kind: Literal["empirical"] = "empirical"
    path: Path | None = None
    values: tuple[int, ...] | None = Field(None, min_length=1)
    column: str | int | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve_path(value, info)

    @field_validator("values")
    @classmethod
    def _counts(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and min(value) < 0:
            raise InfercostError("", min(value), "token counts must be ≥ 0")
        if value is not None and max(value) > _MAX_TOKENS:
            raise InfercostError("", max(value), f"token counts must be ≤ {_MAX_TOKENS}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> EmpiricalLength:
        if (self.path is None) == (self.values is None):
            raise InfercostError("path", self.path, "give exactly one of path and values")
        return self

    def counts(self, base_dir: Path = Path(".")) -> IntArray:
        if self.values is not None:
            return np.asarray(self.values, dtype=np.int64)
        assert self.path is not None
        return read_token_counts(_under(self.path, base_dir), self.column)

    def sampler(self, base_dir: Path = Path(".")) -> Sampler:
        counts = np.maximum(self.counts(base_dir), 1)
        return lambda rng, n: counts[rng.integers(0, len(counts), size=n)]


def _fixed_tokens(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"kind": "fixed", "tokens": value}
    return value


LengthSpec = Annotated[
    FixedLength | UniformLength | LognormalLength | EmpiricalLength,
    Field(discriminator="kind"),
    BeforeValidator(_fixed_tokens),
]


# --- durations (seconds) ----------------------------------------------------------------------


class _Duration(Frozen):
    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        """`n` durations ≥ 0 in seconds."""
        raise NotImplementedError


class FixedDuration(_Duration):
    kind: Literal["fixed"] = "fixed"
    value_s: float = Field(0.0, ge=0, allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return np.full(n, self.value_s)


class ExponentialDuration(_Duration):
    kind: Literal["exponential"] = "exponential"
    mean_s: float = Field(gt=0, allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.exponential(self.mean_s, n)


class UniformDuration(_Duration):
    kind: Literal["uniform"] = "uniform"
    low_s: float = Field(ge=0, allow_inf_nan=False)
    high_s: float = Field(ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> UniformDuration:
        if self.high_s < self.low_s:
            raise InfercostError("high_s", self.high_s, f"must be ≥ low_s ({self.low_s})")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.uniform(self.low_s, self.high_s, n)


class LognormalDuration(_Duration):
    kind: Literal["lognormal"] = "lognormal"
    median_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    mean_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    sigma: float = Field(ge=0, le=10)
    max_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_centre(self) -> LognormalDuration:
        if (self.median_s is None) == (self.mean_s is None):
            raise InfercostError(
                "median_s", self.median_s, "give exactly one of median_s and mean_s"
            )
        return self

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        median = self.median_s
        if median is None:
            assert self.mean_s is not None
            median = self.mean_s * math.exp(-(self.sigma**2) / 2)
        values = np.exp(rng.normal(math.log(median), self.sigma, n))
        return np.minimum(values, self.max_s if self.max_s is not None else _MAX_SECONDS)


def _fixed_seconds(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"kind": "fixed", "value_s": value}
    return value


DurationSpec = Annotated[
    FixedDuration | ExponentialDuration | UniformDuration | LognormalDuration,
    Field(discriminator="kind"),
    BeforeValidator(_fixed_seconds),
]


# --- arrivals ---------------------------------------------------------------------------------


class PoissonArrival(Frozen):
    kind: Literal["poisson"] = "poisson"
    rate_rps: float = Field(gt=0, allow_inf_nan=False)


class GammaArrival(Frozen):
    """Gamma-distributed gaps: mean 1/rate_rps, coefficient of variation `cv` (> 1 is bursty)."""

    kind: Literal["gamma"] = "gamma"
    rate_rps: float = Field(gt=0, allow_inf_nan=False)
    cv: float = Field(gt=0, le=100)


class ConstantArrival(Frozen):
    kind: Literal["constant"] = "constant"
    rate_rps: float = Field(gt=0, allow_inf_nan=False)


class CurveArrival(Frozen):
    """A rate that follows the hour of the day (piecewise linear, periodic)."""

    kind: Literal["curve"] = "curve"
    points: tuple[tuple[float, float], ...] = Field(min_length=1)
    period_s: float = Field(86400.0, gt=0, allow_inf_nan=False)
    start_hour: float = Field(0.0, ge=0, lt=24)

    @field_validator("points")
    @classmethod
    def _points(cls, points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        hours = [h for h, _ in points]
        for i, (hour, rate) in enumerate(points):
            if not 0 <= hour < 24:
                raise InfercostError(f"{i}.0", hour, "hour of day must be in [0, 24)")
            if not (math.isfinite(rate) and rate >= 0):
                raise InfercostError(f"{i}.1", rate, "rate_rps must be ≥ 0")
        if any(b <= a for a, b in itertools.pairwise(hours)):
            raise InfercostError("", hours, "hours must be strictly increasing")
        if max(r for _, r in points) <= 0:
            raise InfercostError("", [r for _, r in points], "at least one rate must be > 0")
        return points

    @property
    def peak_rps(self) -> float:
        return max(r for _, r in self.points)

    @property
    def mean_rps(self) -> float:
        """Average rate over a whole day."""
        grid = np.linspace(0, 24, 24 * 60 * 4, endpoint=False)
        return float(np.mean(self._rate_at_hour(grid)))

    def _rate_at_hour(self, hour: FloatArray) -> FloatArray:
        hours = np.array([h for h, _ in self.points])
        rates = np.array([r for _, r in self.points])
        xp = np.concatenate(([hours[-1] - 24], hours, [hours[0] + 24]))
        fp = np.concatenate(([rates[-1]], rates, [rates[0]]))
        rate: FloatArray = np.interp(hour, xp, fp)
        return rate

    def rate_at(self, t_s: FloatArray) -> FloatArray:
        """Arrival rate (1/s) at simulated times `t_s`."""
        hour = np.mod(self.start_hour + np.asarray(t_s, dtype=np.float64) * 24 / self.period_s, 24)
        return self._rate_at_hour(hour)


class TraceArrival(Frozen):
    """Replay of a trace file's arrival times (and, by default, its lengths)."""

    kind: Literal["trace"] = "trace"
    path: Path
    format: TraceFormat
    time_scale: float = Field(1.0, gt=0, allow_inf_nan=False)
    rate_scale: float | None = Field(None, gt=0, allow_inf_nan=False)
    loop: bool = False
    lengths_from: Literal["trace", "classes"] = "trace"

    @field_validator("path")
    @classmethod
    def _path(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve_path(value, info)

    @model_validator(mode="after")
    def _one_scale(self) -> TraceArrival:
        if self.rate_scale is not None and self.time_scale != 1.0:
            raise InfercostError(
                "rate_scale", self.rate_scale, "give time_scale or rate_scale, not both"
            )
        return self

    @property
    def scale(self) -> float:
        """Factor from trace seconds to simulated seconds."""
        return self.time_scale / (self.rate_scale or 1.0)


class ClosedArrival(Frozen):
    """A closed loop of `concurrency` clients, each waiting `think_s` between requests."""

    kind: Literal["closed"] = "closed"
    concurrency: int = Field(ge=1)
    think_s: float = Field(0.0, ge=0, allow_inf_nan=False)


ArrivalSpec = Annotated[
    PoissonArrival | GammaArrival | ConstantArrival | CurveArrival | TraceArrival | ClosedArrival,
    Field(discriminator="kind"),
]


# --- classes ----------------------------------------------------------------------------------


class SystemPrompt(Frozen):
    """A prompt start shared by every request of a class (one named prefix segment)."""

    key: str = Field(min_length=1)
    tokens: int = Field(ge=1, le=_MAX_TOKENS)


class Reasoning(Frozen):
    """A `share` of requests also generate `tokens` reasoning tokens (added to the output)."""

    share: float = Field(ge=0, le=1)
    tokens: LengthSpec


class SLO(Frozen):
    """Latency targets of a class, met by `percentile` % of its requests."""

    ttft_ms: float | None = Field(None, gt=0)
    tpot_ms: float | None = Field(None, gt=0)
    e2e_ms: float | None = Field(None, gt=0)
    percentile: float = Field(99.0, gt=0, le=100)


class SessionSpec(Frozen):
    """Multi-turn agent sessions (see the module docstring for how the context grows)."""

    turns: LengthSpec
    user_tokens: LengthSpec
    tool_output_tokens: LengthSpec | None = None
    output: LengthSpec
    think_s: DurationSpec = FixedDuration()
    max_context_tokens: int | None = Field(None, ge=1)


class RequestClass(Frozen):
    name: str = Field("default", min_length=1)
    weight: float = Field(1.0, gt=0, allow_inf_nan=False)
    prompt: LengthSpec | None = None
    output: LengthSpec | None = None
    session: SessionSpec | None = None
    reasoning: Reasoning | None = None
    system_prompt: SystemPrompt | None = None
    slo: SLO | None = None

    @model_validator(mode="after")
    def _lengths(self) -> RequestClass:
        if self.session is not None:
            for name in ("prompt", "output"):
                if getattr(self, name) is not None:
                    raise InfercostError(
                        name,
                        _described(getattr(self, name)),
                        "a session class takes its lengths from `session`; remove it",
                    )
        elif (self.prompt is None) != (self.output is None):
            missing = "output" if self.output is None else "prompt"
            raise InfercostError(missing, None, "give both prompt and output lengths")
        return self


# --- the workload -----------------------------------------------------------------------------


_LENGTH_FIELDS = ("prompt", "output", "session", "reasoning", "system_prompt")


class WorkloadSpec(Frozen):
    arrival: ArrivalSpec
    classes: tuple[RequestClass, ...] = Field((RequestClass(),), min_length=1)
    requests: int | None = Field(None, ge=1)
    duration_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> WorkloadSpec:
        names = [c.name for c in self.classes]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise InfercostError(f"classes.{i}.name", name, "class names must be unique")
        for i, c in enumerate(self.classes):
            if self.trace_lengths:
                for name in _LENGTH_FIELDS:
                    if getattr(c, name) is not None:
                        raise InfercostError(
                            f"classes.{i}.{name}",
                            _described(getattr(c, name)),
                            "lengths come from the trace; remove it or set "
                            "arrival.lengths_from: classes",
                        )
            elif c.session is None and c.prompt is None:
                raise InfercostError(
                    f"classes.{i}.prompt",
                    None,
                    "each class needs prompt and output lengths, or a session",
                )
        finite_trace = isinstance(self.arrival, TraceArrival) and not self.arrival.loop
        closed = isinstance(self.arrival, ClosedArrival)
        if self.requests is None and self.duration_s is None and not (finite_trace or closed):
            raise InfercostError(
                "requests", None, "set requests or duration_s so the workload ends"
            )
        return self

    @property
    def trace_lengths(self) -> bool:
        """Whether prompt and output lengths come from a trace file."""
        return isinstance(self.arrival, TraceArrival) and self.arrival.lengths_from == "trace"

    @property
    def concurrency(self) -> int | None:
        """Clients of a closed loop (None for open-loop arrivals)."""
        return self.arrival.concurrency if isinstance(self.arrival, ClosedArrival) else None

    @property
    def closed_think_s(self) -> float:
        return self.arrival.think_s if isinstance(self.arrival, ClosedArrival) else 0.0

    @property
    def slos(self) -> dict[str, SLO]:
        """SLO of each class that has one, by class name."""
        return {c.name: c.slo for c in self.classes if c.slo is not None}


# --- loading ----------------------------------------------------------------------------------


def load_workload(
    source: Mapping[str, Any] | str | Path, *, base_dir: str | Path | None = None
) -> WorkloadSpec:
    """A validated `WorkloadSpec` from a YAML file or a mapping (a whole scenario or its section).

    Relative file paths in the workload are resolved against `base_dir` (default: the YAML file's
    directory) and must exist. Mistakes raise `InfercostError` naming the field path, e.g.
    `workload.arrival.rate_rps: -1 is not valid; input should be greater than 0`.
    """
    data: Any = source
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise InfercostError(
                "workload", str(path), f"cannot be read ({err.strerror})"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            where = getattr(err, "problem_mark", None)
            line = f" at line {where.line + 1}" if where is not None else ""
            problem = getattr(err, "problem", None) or type(err).__name__
            raise InfercostError(str(path), "", f"is not valid YAML{line}: {problem}") from None
        if base_dir is None:
            base_dir = path.parent
    if isinstance(data, Mapping) and "workload" in data:
        data = data["workload"]
    if not isinstance(data, Mapping):
        raise InfercostError(
            "workload",
            _short(data),
            "a mapping with arrival, classes, requests or duration_s, seed",
        )
    context = {"base_dir": Path(base_dir)} if base_dir is not None else None
    try:
        return WorkloadSpec.model_validate(data, context=context)
    except ValidationError as err:
        raise user_error(err, data) from None


def _described(spec: BaseModel) -> str:
    return _short(spec.model_dump(mode="json", exclude_defaults=True))


def _short(value: object, limit: int = 80) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user_error(err: ValidationError, data: Any, prefix: str = "workload") -> InfercostError:
    """The first problem of a validation error as one-line `InfercostError` with its field path."""
    problems = err.errors()
    # a misspelt field also shows as a missing one: report the unknown name, it explains both
    first = next((e for e in problems if e["type"] == "extra_forbidden"), problems[0])
    loc = list(first["loc"])
    path = [prefix, *_data_path(loc, data)]
    kind = first["type"]
    ctx = first.get("ctx") or {}
    cause = ctx.get("error")
    value: Any = first.get("input")
    allowed = first["msg"]
    if isinstance(cause, InfercostError):
        if cause.field:
            path.append(cause.field)
        value, allowed = cause.value, cause.allowed
    elif kind == "union_tag_invalid":
        path.append("kind")
        value, allowed = ctx.get("tag"), f"kind must be one of {ctx.get('expected_tags')}"
    elif kind == "union_tag_not_found":
        path.append("kind")
        value, allowed = None, "a `kind` is required"
    elif kind == "missing":
        value, allowed = None, "required"
    elif kind == "extra_forbidden":
        fields = _fields_at(loc[:-1])
        allowed = "unknown field" + (f"; allowed: {', '.join(fields)}" if fields else "")
    else:
        allowed = allowed[:1].lower() + allowed[1:]
    if isinstance(value, Mapping | list | tuple | str):
        value = _short(value)
    field = ".".join(str(p) for p in path if str(p))
    return InfercostError(field, value, " ".join(str(allowed).split()))


def _data_path(loc: list[int | str], data: Any) -> list[int | str]:
    """The error location as the user wrote it: without pydantic's union tags."""
    out: list[int | str] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping):
            if part in node:
                out.append(part)
                node = node[part]
            elif part != node.get("kind"):  # a missing field; a tag is skipped
                out.append(part)
                node = None
        elif isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
    return out


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def _fields_at(loc: list[int | str]) -> list[str]:
    """Field names of the model at a validation location (for "unknown field" messages)."""
    current: list[Any] = [WorkloadSpec]
    for part in loc:
        following: list[Any] = []
        for tp in current:
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                if isinstance(part, str) and part in tp.model_fields:
                    following.extend(_members(tp.model_fields[part].annotation))
                elif "kind" in tp.model_fields and tp.model_fields["kind"].default == part:
                    following.append(tp)
            elif typing.get_origin(tp) in (tuple, list) and isinstance(part, int):
                following.extend(_members(typing.get_args(tp)[0]))
        current = following
    models = [tp for tp in current if isinstance(tp, type) and issubclass(tp, BaseModel)]
    return list(models[0].model_fields) if len(models) == 1 else []


# --- generation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """A block of first-turn arrivals, with the trace's lengths when they come from a trace."""

    arrival_s: FloatArray
    prompt: IntArray | None = None
    output: IntArray | None = None
    prefix: list[tuple[Segment, ...]] | None = None


def _renewal(gaps: Callable[[int], FloatArray]) -> Iterator[_Block]:
    t = 0.0
    while True:
        times = t + np.cumsum(gaps(BLOCK))
        t = float(times[-1])
        yield _Block(times)


def _arrival_blocks(
    arrival: ArrivalSpec, rng: np.random.Generator, base_dir: Path
) -> Iterator[_Block]:
    if isinstance(arrival, PoissonArrival):
        mean_gap = 1.0 / arrival.rate_rps
        yield from _renewal(lambda n: rng.exponential(mean_gap, n))
    elif isinstance(arrival, GammaArrival):
        shape = 1.0 / arrival.cv**2
        scale = arrival.cv**2 / arrival.rate_rps
        yield from _renewal(lambda n: rng.gamma(shape, scale, n))
    elif isinstance(arrival, ConstantArrival):
        start = 0
        while True:
            yield _Block(np.arange(start, start + BLOCK, dtype=np.float64) / arrival.rate_rps)
            start += BLOCK
    elif isinstance(arrival, CurveArrival):
        peak = arrival.peak_rps
        t = 0.0
        while True:  # thinning: a Poisson process at the peak rate, each kept with rate/peak
            candidates = t + np.cumsum(rng.exponential(1.0 / peak, BLOCK))
            t = float(candidates[-1])
            keep = rng.random(BLOCK) * peak < arrival.rate_at(candidates)
            if keep.any():
                yield _Block(candidates[keep])
    elif isinstance(arrival, ClosedArrival):
        while True:
            yield _Block(np.zeros(BLOCK))
    else:
        yield from _trace_blocks(arrival, _under(arrival.path, base_dir))


def _trace_blocks(arrival: TraceArrival, path: Path) -> Iterator[_Block]:
    scale = arrival.scale
    offset = 0.0
    while True:
        times: list[float] = []
        prompts: list[int] = []
        outputs: list[int] = []
        prefixes: list[tuple[Segment, ...]] = []
        count = 0
        last = 0.0
        for row in read_trace(path, arrival.format):
            times.append(offset + row.arrival_s * scale)
            prompts.append(row.prompt_tokens)
            outputs.append(row.output_tokens)
            prefixes.append(row.prefix)
            count += 1
            last = row.arrival_s
            if len(times) == BLOCK:
                yield _trace_block(times, prompts, outputs, prefixes)
                times, prompts, outputs, prefixes = [], [], [], []
        if times:
            yield _trace_block(times, prompts, outputs, prefixes)
        if count == 0:
            raise InfercostError("workload.arrival.path", str(path), "holds no requests")
        if not arrival.loop:
            return
        gap = last / (count - 1) if count > 1 and last > 0 else 1.0
        offset += (last + gap) * scale


def _trace_block(
    times: list[float], prompts: list[int], outputs: list[int], prefixes: list[tuple[Segment, ...]]
) -> _Block:
    return _Block(
        np.asarray(times, dtype=np.float64),
        np.maximum(np.asarray(prompts, dtype=np.int64), 1),
        np.maximum(np.asarray(outputs, dtype=np.int64), 1),
        prefixes if any(prefixes) else None,
    )


@dataclass(frozen=True)
class _Sessions:
    """Lengths for `m` sessions drawn at once; turn j of session i is at `start[i] + j`."""

    turns: list[int]
    start: list[int]
    new: list[int]
    output: list[int]
    think_s: list[float]


@dataclass(frozen=True)
class _ClassPlan:
    """A class with its samplers bound (files read) and its own random stream."""

    name: str
    rng: np.random.Generator
    prefix: tuple[Segment, ...]
    system_tokens: int
    prompt: Sampler | None
    output: Sampler | None
    reasoning_share: float
    reasoning: Sampler | None
    session: SessionSpec | None
    turns: Sampler | None
    user: Sampler | None
    tool: Sampler | None

    @classmethod
    def build(cls, spec: RequestClass, rng: np.random.Generator, base_dir: Path) -> _ClassPlan:
        system = spec.system_prompt
        session = spec.session
        output = session.output if session is not None else spec.output
        return cls(
            name=spec.name,
            rng=rng,
            prefix=((system.key, system.tokens),) if system is not None else (),
            system_tokens=system.tokens if system is not None else 0,
            prompt=spec.prompt.sampler(base_dir) if spec.prompt is not None else None,
            output=output.sampler(base_dir) if output is not None else None,
            reasoning_share=spec.reasoning.share if spec.reasoning is not None else 0.0,
            reasoning=spec.reasoning.tokens.sampler(base_dir)
            if spec.reasoning is not None
            else None,
            session=session,
            turns=session.turns.sampler(base_dir) if session is not None else None,
            user=session.user_tokens.sampler(base_dir) if session is not None else None,
            tool=(
                session.tool_output_tokens.sampler(base_dir)
                if session is not None and session.tool_output_tokens is not None
                else None
            ),
        )

    def outputs(self, n: int) -> IntArray:
        assert self.output is not None
        out = self.output(self.rng, n)
        if self.reasoning is not None and self.reasoning_share > 0:
            thinking = self.rng.random(n) < self.reasoning_share
            k = int(thinking.sum())
            if k:
                out[thinking] += self.reasoning(self.rng, k)
        return out

    def prompts(self, n: int) -> IntArray:
        assert self.prompt is not None
        return self.system_tokens + self.prompt(self.rng, n)

    def sessions(self, m: int) -> _Sessions:
        assert self.session is not None and self.turns is not None and self.user is not None
        turns = self.turns(self.rng, m)
        total = int(turns.sum())
        new = self.user(self.rng, total)
        if self.tool is not None:
            tool = self.tool(self.rng, total)
            start = np.concatenate(([0], np.cumsum(turns)[:-1]))
            tool[start] = 0  # the first turn answers no tool call
            new = new + tool
        else:
            start = np.concatenate(([0], np.cumsum(turns)[:-1]))
        output = self.outputs(total)
        think = self.session.think_s.sample(self.rng, total)
        return _Sessions(
            turns.tolist(), start.tolist(), new.tolist(), output.tolist(), think.tolist()
        )


def generate(
    spec: WorkloadSpec, *, seed: int | None = None, base_dir: str | Path = Path(".")
) -> Iterator[RequestSpec]:
    """The workload's requests, lazily, in the order described in the module docstring.

    `seed` overrides `spec.seed`. Relative file paths (empirical lengths, traces) not already
    resolved by `load_workload` are taken relative to `base_dir`. Files for lengths are read here,
    once; a trace is read as the stream is consumed.
    """
    seed = spec.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InfercostError("seed", seed, "an integer ≥ 0")
    base = Path(base_dir)
    if isinstance(spec.arrival, TraceArrival):
        trace = _under(spec.arrival.path, base)
        if not trace.is_file():
            raise InfercostError(
                "workload.arrival.path", str(spec.arrival.path), f"no such file ({trace})"
            )
    streams = np.random.SeedSequence(seed).spawn(2 + len(spec.classes))
    plans = [
        _ClassPlan.build(c, np.random.default_rng(s), base)
        for c, s in zip(spec.classes, streams[2:], strict=True)
    ]
    blocks = _arrival_blocks(spec.arrival, np.random.default_rng(streams[0]), base)
    return _requests(spec, blocks, plans, np.random.default_rng(streams[1]))


def _requests(
    spec: WorkloadSpec,
    blocks: Iterator[_Block],
    plans: list[_ClassPlan],
    class_rng: np.random.Generator,
) -> Iterator[RequestSpec]:
    limit = spec.requests if spec.requests is not None else -1
    horizon = None if isinstance(spec.arrival, ClosedArrival) else spec.duration_s
    weights = np.array([c.weight for c in spec.classes])
    cumulative = np.cumsum(weights) / weights.sum()
    last_class = len(plans) - 1
    names = [p.name for p in plans]
    class_prefixes = [p.prefix for p in plans]
    trace_lengths = spec.trace_lengths
    next_id = 0
    next_session = 0
    for block in blocks:
        times = block.arrival_s
        stop = False
        if horizon is not None:
            cut = int(np.searchsorted(times, horizon, side="right"))
            stop = cut < len(times)
            times = times[:cut]
        n = len(times)
        if last_class:
            chosen = np.minimum(
                np.searchsorted(cumulative, class_rng.random(n), side="right"), last_class
            )
        else:
            chosen = np.zeros(n, dtype=np.int64)
        drawn: dict[int, _Sessions] = {}
        prefixes: list[tuple[Segment, ...]] | None = None
        if trace_lengths:
            assert block.prompt is not None and block.output is not None
            prompt, output = block.prompt[:n], block.output[:n]
            prefixes = block.prefix[:n] if block.prefix is not None else None
        else:
            prompt = np.zeros(n, dtype=np.int64)
            output = np.zeros(n, dtype=np.int64)
            for c, plan in enumerate(plans):
                where = np.flatnonzero(chosen == c) if last_class else np.arange(n)
                if not len(where):
                    continue
                if plan.session is not None:
                    drawn[c] = plan.sessions(len(where))
                else:
                    prompt[where] = plan.prompts(len(where))
                    output[where] = plan.outputs(len(where))
        if not drawn:  # no sessions in this block: build the requests at C speed
            # (positional: RequestSpec's fields start id, arrival_s, prompt_tokens, output_tokens,
            # request_class, prefix — tests/sim/test_workload.py checks each of them)
            take = n if limit < 0 else min(n, limit - next_id)
            which = chosen[:take].tolist()
            labels: Iterable[str] = (
                [names[c] for c in which] if last_class else itertools.repeat(names[0])
            )
            starts: Iterable[tuple[Segment, ...]]
            if prefixes is not None:
                starts = prefixes[:take]
            elif last_class:
                starts = [class_prefixes[c] for c in which]
            else:
                starts = itertools.repeat(plans[0].prefix)
            yield from map(
                RequestSpec,
                range(next_id, next_id + take),
                times[:take].tolist(),
                prompt[:take].tolist(),
                output[:take].tolist(),
                labels,
                starts,
            )
            next_id += take
            if stop or next_id == limit:
                return
            continue
        used = dict.fromkeys(drawn, 0)
        for t, c, p, o, i in zip(
            times.tolist(), chosen.tolist(), prompt.tolist(), output.tolist(), range(n), strict=True
        ):
            plan = plans[c]
            if c in drawn:
                s = drawn[c]
                j = used[c]
                used[c] = j + 1
                session = next_session
                next_session += 1
                first = s.start[j]
                chain = list(plan.prefix)
                context = plan.system_tokens
                arrival = t
                cap = plan.session.max_context_tokens if plan.session is not None else None
                for k in range(s.turns[j]):
                    new, out = s.new[first + k], s.output[first + k]
                    if k and cap is not None and context + new + out > cap:
                        break
                    if next_id == limit:
                        return
                    think = s.think_s[first + k] if k else None
                    if think is not None:
                        arrival += think
                    name = f"s{session}-t{k}"
                    yield RequestSpec(
                        id=next_id,
                        arrival_s=arrival,
                        prompt_tokens=context + new,
                        output_tokens=out,
                        request_class=plan.name,
                        prefix=tuple(chain),
                        publishes=name,
                        session=session,
                        turn=k,
                        think_s=think,
                    )
                    next_id += 1
                    chain.append((name, new + out))
                    context += new + out
            else:
                if next_id == limit:
                    return
                yield RequestSpec(
                    id=next_id,
                    arrival_s=t,
                    prompt_tokens=p,
                    output_tokens=o,
                    request_class=plan.name,
                    prefix=prefixes[i] if prefixes is not None else plan.prefix,
                )
                next_id += 1
        if stop:
            return
