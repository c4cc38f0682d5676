"""The event loop: arrivals, routing, replica steps, KV hand-offs, session turns — one heapq.

Only the next arrival of the workload is in the heap at any time (the workload is an iterator), so
memory stays flat for long runs. Ties break by insertion order, so a seed gives one result.
"""

from __future__ import annotations

import heapq
import itertools
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from infercost._types import FloatArray
from infercost.sim.kv_cache import block_hashes
from infercost.sim.replica import Live, Replica, StepPlan
from infercost.sim.request import RequestSpec

Router = Literal["round-robin", "least-outstanding", "least-kv", "affinity"]
ROUTERS: tuple[str, ...] = ("round-robin", "least-outstanding", "least-kv", "affinity")

_ARRIVE, _STEP_END, _WAKE, _HANDOFF = range(4)


@dataclass
class StepLog:
    """One row per engine step, all replicas together (columns as compact arrays)."""

    replica: array[int] = field(default_factory=lambda: array("i"))
    end_s: array[float] = field(default_factory=lambda: array("d"))
    seconds: array[float] = field(default_factory=lambda: array("d"))
    decodes: array[int] = field(default_factory=lambda: array("i"))
    prefill_tokens: array[int] = field(default_factory=lambda: array("i"))
    tokens_out: array[int] = field(default_factory=lambda: array("i"))  # output tokens emitted
    decode_gap_s: array[float] = field(default_factory=lambda: array("d"))  # ITL of its decodes
    flops_per_chip: array[float] = field(default_factory=lambda: array("d"))
    bytes_per_chip: array[float] = field(default_factory=lambda: array("d"))
    kv_occupancy: array[float] = field(default_factory=lambda: array("d"))
    waiting: array[int] = field(default_factory=lambda: array("i"))

    def column(self, name: str) -> FloatArray:
        """One column as a float array (empty when no step ran)."""
        out: FloatArray = np.asarray(getattr(self, name), dtype=float)
        return out

    def add(self, replica: Replica, plan: StepPlan, end_s: float, emitted: int) -> None:
        self.replica.append(replica.index)
        self.end_s.append(end_s)
        self.seconds.append(plan.seconds)
        self.decodes.append(plan.decodes)
        self.prefill_tokens.append(plan.prefill_tokens)
        self.tokens_out.append(emitted)
        self.decode_gap_s.append(plan.decode_gap_s)
        self.flops_per_chip.append(plan.flops_per_chip)
        self.bytes_per_chip.append(plan.bytes_per_chip)
        self.kv_occupancy.append(replica.kv.occupancy)
        self.waiting.append(len(replica.waiting))


@dataclass
class RunResult:
    requests: list[Live]
    steps: StepLog
    replicas: list[Replica]
    end_s: float


@dataclass
class Cluster:
    """Replicas that take new prompts (`entry`) and, when disaggregated, the decode pool."""

    replicas: list[Replica]
    router: Router = "least-outstanding"
    transfer_bytes_per_s: float = float("inf")  # prefill → decode KV hand-off link

    @property
    def entry(self) -> list[Replica]:
        return [r for r in self.replicas if r.role != "decode"]

    @property
    def decode_pool(self) -> list[Replica]:
        return [r for r in self.replicas if r.role == "decode"]


def _pick(replicas: Sequence[Replica], router: str, request: Live, turn: int) -> Replica:
    if len(replicas) == 1:
        return replicas[0]
    if router == "round-robin":
        return replicas[turn % len(replicas)]
    if router == "least-kv":
        return min(replicas, key=lambda r: (r.kv.occupancy, r.outstanding, r.index))
    if router == "affinity":  # same session, or same leading prefix, to the same replica
        spec = request.spec
        key = (
            spec.session
            if spec.session is not None
            else (spec.prefix[0][0] if spec.prefix else None)
        )
        if key is not None:
            return replicas[hash(key) % len(replicas)]
    return min(replicas, key=lambda r: (r.outstanding, r.index))


def run(
    cluster: Cluster,
    workload: Iterator[RequestSpec],
    *,
    closed_concurrency: int | None = None,
    closed_think_s: float = 0.0,
    closed_until_s: float | None = None,
    reject: Callable[[RequestSpec], str | None] = lambda _: None,
    on_done: Callable[[int], None] | None = None,
) -> RunResult:
    """Serve every request of `workload` on `cluster`; return every request and every step.

    With `closed_concurrency`, that many clients each send a request, wait for it to finish and for
    `closed_think_s`, then send the next (arrival times in the workload are ignored), until the
    workload ends or `closed_until_s`.
    """
    heap: list[tuple[float, int, int, object]] = []
    order = itertools.count()
    requests: list[Live] = []
    steps = StepLog()
    held_turns: dict[int, deque[RequestSpec]] = {}  # session → later turns, in order
    routed = itertools.count()
    block_size = cluster.replicas[0].kv.block_size

    def push(t: float, kind: int, payload: object) -> None:
        heapq.heappush(heap, (t, next(order), kind, payload))

    def next_arrival(now: float) -> None:
        """Pull the workload until the next first-turn request; hold later turns of sessions."""
        for spec in workload:
            if spec.session is not None and spec.think_s is not None and spec.turn > 0:
                held_turns.setdefault(spec.session, deque()).append(spec)
                continue
            push(now if closed_concurrency else spec.arrival_s, _ARRIVE, spec)
            return

    def start(replica: Replica, now: float) -> None:
        if replica.busy:
            return
        plan = replica.plan_step(now)
        if plan is None:
            wake = replica.wake_at()
            if wake is not None:
                push(max(wake, now), _WAKE, replica)
            return
        replica.busy = True
        replica.plan = plan
        push(now + plan.seconds, _STEP_END, replica)

    def finished(r: Live, now: float) -> None:
        if on_done is not None:
            on_done(1)
        spec = r.spec
        later = held_turns.get(spec.session) if spec.session is not None else None
        if later:
            nxt = later.popleft()
            if not later:
                del held_turns[nxt.session]  # type: ignore[arg-type]
            push(now + (nxt.think_s or 0.0), _ARRIVE, nxt)
        elif closed_concurrency:
            pull_closed(now + closed_think_s)

    def pull_closed(t: float) -> None:
        if closed_until_s is not None and t > closed_until_s:
            return
        spec = next(workload, None)
        if spec is not None:
            push(t, _ARRIVE, spec)

    if closed_concurrency:
        for _ in range(closed_concurrency):
            pull_closed(0.0)
    else:
        next_arrival(0.0)

    now = 0.0
    while heap:
        now, _, kind, payload = heapq.heappop(heap)
        if kind == _ARRIVE:
            assert isinstance(payload, RequestSpec)
            spec = payload
            if not closed_concurrency and spec.turn == 0:
                next_arrival(now)
            live = Live(
                spec=spec,
                arrival_s=now,
                hashes=block_hashes(spec.prefix, block_size) if spec.prefix else [],
                to_prefill=spec.prompt_tokens,
            )
            requests.append(live)
            reason = reject(spec)
            if reason is not None:
                live.rejected = reason
                finished(live, now)
                continue
            replica = _pick(cluster.entry, cluster.router, live, next(routed))
            replica.enqueue(live)
            start(replica, now)
        elif kind == _STEP_END:
            assert isinstance(payload, Replica)
            replica = payload
            plan = replica.plan
            assert plan is not None
            replica.busy = False
            done, handoff, emitted = replica.finish_step(plan, now)
            steps.add(replica, plan, now, emitted)
            for r in done:
                finished(r, now)
            for r in handoff:
                seconds = r.to_prefill * replica.kv_bytes_per_block / block_size
                push(now + seconds / cluster.transfer_bytes_per_s, _HANDOFF, r)
            start(replica, now)
        elif kind == _WAKE:
            assert isinstance(payload, Replica)
            start(payload, now)
        else:  # KV arrived at the decode pool
            assert isinstance(payload, Live)
            target = _pick(cluster.decode_pool, "least-kv", payload, 0)
            target.enqueue(payload)
            start(target, now)
    for r in requests:
        if r.finish_s is None and r.rejected is None:
            r.rejected = "never scheduled (static batch never filled, or no KV room)"
    return RunResult(requests=requests, steps=steps, replicas=cluster.replicas, end_s=now)
