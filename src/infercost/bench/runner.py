"""Run the levels of a load sweep and summarize each with the canonical metric definitions.

Load patterns:

- `concurrency`: a closed loop of N workers; each sends its next request (or the next turn of its
  conversation) as soon as the previous one ends.
- `rate`: an open loop; conversations start every 1/rate seconds whatever the server does.
- `poisson`: an open loop with exponential gaps of mean 1/rate (seeded).

In the open loops the turns of a multi-turn conversation follow each other without think time. A
conversation ends at its first failed turn.

Metrics per level (`infercost.sim.metrics` holds the shared definitions): TTFT = sent → first
content token (queueing included), TPOT = (E2E − TTFT) / (output tokens − 1), ITL = gaps between
consecutive streamed tokens, E2E = sent → last token. Throughput counts output tokens of completed
requests over the level's window (first send → last token). Failed requests are counted and their
reasons tallied; their timings never enter the latency statistics or the throughput.

Saturation (see `SaturationRule`): after each level but the first, the sweep stops when output
throughput grew by less than 5 % over the previous level while p99 TTFT at least doubled, or when
the level's error rate exceeds `max_error_rate`.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict

from infercost.bench.client import RequestRecord, endpoint_url, request_body, send_request
from infercost.bench.config import BenchConfig, SaturationRule
from infercost.bench.prompts import approx_tokens, conversation
from infercost.sim.metrics import PERCENTILES, weighted_percentile

_METRICS = ("ttft", "tpot", "itl", "e2e")


class LevelSummary(BaseModel):
    """One load level. Latencies in ms over completed requests only; None where unknown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: str
    level: float | None
    requests: int
    completed: int
    failed: int
    error_rate: float
    failure_reasons: dict[str, int] = {}
    duration_s: float | None = None
    offered_rps: float | None = None
    requests_per_s: float | None = None
    output_tps: float | None = None
    input_tps: float | None = None
    prompt_tokens_mean: float | None = None
    output_tokens_mean: float | None = None
    ttft_ms_mean: float | None = None
    ttft_ms_p50: float | None = None
    ttft_ms_p90: float | None = None
    ttft_ms_p99: float | None = None
    tpot_ms_mean: float | None = None
    tpot_ms_p50: float | None = None
    tpot_ms_p90: float | None = None
    tpot_ms_p99: float | None = None
    itl_ms_mean: float | None = None
    itl_ms_p50: float | None = None
    itl_ms_p90: float | None = None
    itl_ms_p99: float | None = None
    e2e_ms_mean: float | None = None
    e2e_ms_p50: float | None = None
    e2e_ms_p90: float | None = None
    e2e_ms_p99: float | None = None


class BenchResult(BaseModel):
    """A sweep: one summary per level run, and why it stopped early (None: it ran every level)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str  # "infercost", "vllm" or "guidellm"
    url: str | None = None
    model: str | None = None
    endpoint: str | None = None
    mode: str | None = None
    levels: tuple[LevelSummary, ...]
    stopped_reason: str | None = None
    config: BenchConfig | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _stats(prefix: str, values_s: np.ndarray[Any, Any], *, per_gap: bool = False) -> dict[str, Any]:
    ok = values_s[np.isfinite(values_s)]
    out: dict[str, Any] = {f"{prefix}_ms_mean": _num(float(ok.mean()) * 1e3) if ok.size else None}
    for q in PERCENTILES:
        if not ok.size:
            out[f"{prefix}_ms_p{q}"] = None
        elif per_gap:  # the simulator's ITL percentile (unit weights here: one gap, one token)
            out[f"{prefix}_ms_p{q}"] = _num(weighted_percentile(ok, np.ones(ok.size), q) * 1e3)
        else:
            out[f"{prefix}_ms_p{q}"] = _num(float(np.percentile(ok, q)) * 1e3)
    return out


def summarize_level(records: list[RequestRecord], mode: str, level: float | None) -> LevelSummary:
    """The canonical figures of one level; failures are counted, never timed."""
    done = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    reasons = Counter(r.error or "" for r in failed)
    figures: dict[str, Any] = {}
    arrays = {
        "ttft": np.array([r.ttft_s for r in done], dtype=float),
        "tpot": np.array([r.tpot_s for r in done], dtype=float),
        "e2e": np.array([r.e2e_s for r in done], dtype=float),
        "itl": np.array([g for r in done for g in r.itl_s], dtype=float),
    }
    for name in _METRICS:
        figures.update(_stats(name, arrays[name], per_gap=name == "itl"))
    sends = sorted(r.sent_s for r in records)
    if done:
        start = sends[0]
        end = max(r.token_times_s[-1] for r in done)
        duration = max(end - start, 1e-9)
        out_tokens = sum(r.output_tokens for r in done)
        in_tokens = sum(r.prompt_tokens for r in done)
        figures |= {
            "duration_s": duration,
            "requests_per_s": len(done) / duration,
            "output_tps": out_tokens / duration,
            "input_tps": in_tokens / duration,
            "prompt_tokens_mean": in_tokens / len(done),
            "output_tokens_mean": out_tokens / len(done),
        }
    if len(sends) > 1 and sends[-1] > sends[0]:
        figures["offered_rps"] = (len(sends) - 1) / (sends[-1] - sends[0])
    return LevelSummary(
        mode=mode,
        level=level,
        requests=len(records),
        completed=len(done),
        failed=len(failed),
        error_rate=len(failed) / len(records) if records else 0.0,
        failure_reasons=dict(reasons.most_common(5)),
        **figures,
    )


def saturation_reason(
    previous: LevelSummary | None,
    current: LevelSummary,
    rule: SaturationRule,
    max_error_rate: float,
) -> str | None:
    """Why the sweep should stop after `current` (None: keep going). See `SaturationRule`."""
    if current.error_rate > max_error_rate:
        return (
            f"error rate {current.error_rate:.1%} at level {current.level:g} "
            f"exceeds max_error_rate {max_error_rate:.1%}"
        )
    if previous is None:
        return None
    tps0, tps1 = previous.output_tps, current.output_tps
    ttft0, ttft1 = previous.ttft_ms_p99, current.ttft_ms_p99
    if None in (tps0, tps1, ttft0, ttft1):
        return None
    assert tps0 is not None and tps1 is not None and ttft0 is not None and ttft1 is not None
    gain = tps1 / tps0 - 1 if tps0 > 0 else math.inf
    if gain < rule.min_throughput_gain and ttft1 >= rule.ttft_p99_growth * ttft0:
        return (
            f"saturated at level {current.level:g}: output throughput +{gain:.1%} "
            f"(< {rule.min_throughput_gain:.0%}) while p99 TTFT went {ttft0:.0f} → {ttft1:.0f} ms"
        )
    return None


def arrival_offsets(mode: str, rate: float, seed: int, level_index: int = 0) -> Iterator[float]:
    """Start times (s after the level begins) of an open loop: every 1/rate, or Poisson."""
    if mode == "poisson":
        rng = np.random.default_rng([seed, level_index, 0xA77])
        t = 0.0
        while True:
            yield t
            t += float(rng.exponential(1.0 / rate))
    else:
        for i in itertools.count():
            yield i / rate


async def _run_level(
    config: BenchConfig,
    client: httpx.AsyncClient,
    level_index: int,
    level: float,
    on_request: Callable[[], None],
) -> list[RequestRecord]:
    url = endpoint_url(config.url, config.endpoint)
    records: list[RequestRecord] = []
    started = time.monotonic()
    deadline = started + config.duration_per_level_s if config.duration_per_level_s else None
    reserved = 0

    def may_send() -> bool:
        nonlocal reserved
        if deadline is not None:
            return time.monotonic() < deadline
        if reserved >= config.requests_per_level:
            return False
        reserved += 1
        return True

    async def run_conversation(index: int) -> None:
        conv = conversation(config, index, level_index)
        while not conv.done and may_send():
            user = conv.next_user_message(config.prompt_tokens)
            prompt = conv.prompt(user)
            body = request_body(
                config.model,
                config.endpoint,
                prompt=prompt,
                messages=conv.messages(user),
                max_tokens=config.output_tokens,
                ignore_eos=config.ignore_eos,
            )
            record = await send_request(
                client,
                url,
                body,
                config.endpoint,
                prompt_tokens_estimate=approx_tokens(prompt),
                timeout_s=config.timeout_s,
                turn=conv.turn,
            )
            records.append(record)
            on_request()
            if not record.ok:
                return
            conv.record(user, record.text)

    if config.mode == "concurrency":
        counter = itertools.count()

        async def worker() -> None:
            while (deadline is None and reserved < config.requests_per_level) or (
                deadline is not None and time.monotonic() < deadline
            ):
                await run_conversation(next(counter))

        await asyncio.gather(*(worker() for _ in range(int(level))))
    else:
        tasks: list[asyncio.Task[None]] = []
        conversations = (
            None if deadline is not None else math.ceil(config.requests_per_level / config.turns)
        )
        for index, offset in enumerate(
            arrival_offsets(config.mode, level, config.seed, level_index)
        ):
            if conversations is not None and index >= conversations:
                break
            if deadline is not None and started + offset >= deadline:
                break
            delay = started + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(run_conversation(index)))
        await asyncio.gather(*tasks)
    return records


async def run_bench_async(
    config: BenchConfig,
    on_request: Callable[[], None] | None = None,
    on_level: Callable[[LevelSummary], None] | None = None,
) -> BenchResult:
    """Run the sweep level by level, stopping at saturation (see the module docstring)."""
    tick = on_request or (lambda: None)
    summaries: list[LevelSummary] = []
    stopped: str | None = None
    peak = max(config.levels) if config.mode == "concurrency" else None
    limits = httpx.Limits(
        max_connections=int(peak) if peak else None,
        max_keepalive_connections=int(peak) if peak else 100,
    )
    timeout = httpx.Timeout(config.timeout_s)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        for index, level in enumerate(config.levels):
            records = await _run_level(config, client, index, level, tick)
            summary = summarize_level(records, config.mode, level)
            summaries.append(summary)
            if on_level:
                on_level(summary)
            reason = saturation_reason(
                summaries[-2] if len(summaries) > 1 else None,
                summary,
                config.saturation,
                config.max_error_rate,
            )
            if reason and config.stop_at_saturation:
                stopped = reason
                break
    return BenchResult(
        source="infercost",
        url=config.url,
        model=config.model,
        endpoint=config.endpoint,
        mode=config.mode,
        levels=tuple(summaries),
        stopped_reason=stopped,
        config=config,
    )


def run_bench(
    config: BenchConfig,
    on_request: Callable[[], None] | None = None,
    on_level: Callable[[LevelSummary], None] | None = None,
) -> BenchResult:
    """`run_bench_async` on a fresh event loop (for callers that are not async)."""
    return asyncio.run(run_bench_async(config, on_request, on_level))
