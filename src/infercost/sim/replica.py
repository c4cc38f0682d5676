"""One serving replica: its queue, its running batch, its KV cache, and the shape of its next step.

The replica decides what the next engine step contains (which sequences decode, which prompts
prefill and how many of their tokens) and, when the step ends, what it produced. How long a step
takes is `perf`'s answer, read from a `StepTable`.

Per step the work is independent of the batch size: a decoding request's progress is implied by the
replica's decode-step counter (`generated = tokens at join + steps since join`), its finishing step
sits in a heap, and the requests that need a new KV block at a step are found in one of
`block_size` buckets keyed by the step number modulo the block size.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from infercost.perf.step_table import StepTable
from infercost.sim.kv_cache import KVCache, block_hashes
from infercost.sim.request import RequestSpec

Batching = Literal["continuous", "static", "dynamic"]
Role = Literal["both", "prefill", "decode"]


@dataclass(frozen=True)
class SchedulerConfig:
    batching: Batching = "continuous"
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    chunked_prefill: bool = True
    policy: Literal["decode-first", "prefill-first"] = "decode-first"
    preemption: Literal["recompute", "swap"] = "recompute"
    swap_bytes_per_s: float | None = None
    batch_size: int = 8  # static / dynamic batching
    max_wait_s: float | None = None  # static: None waits for a full batch


@dataclass(eq=False, slots=True)
class Live:
    """A request while the simulator serves it."""

    spec: RequestSpec
    arrival_s: float
    hashes: list[int]
    to_prefill: int = 0  # tokens the current prefill must cover (prompt, + output after recompute)
    prefilled: int = 0
    generated: int = 0
    join_step: int = 0  # replica decode-step counter when this request joined the decode set
    join_generated: int = 0
    first_scheduled_s: float | None = None
    first_token_s: float | None = None
    last_token_s: float = 0.0
    finish_s: float | None = None
    preemptions: int = 0
    cached_tokens: int = 0  # prompt tokens found in the prefix cache at the last admission
    swapped: bool = False
    replica: int = -1
    rejected: str | None = None
    itl_gaps_s: list[float] = field(default_factory=list)  # gaps not equal to a step (resumes)

    @property
    def context(self) -> int:
        return self.spec.prompt_tokens + self.generated


@dataclass(slots=True)
class StepPlan:
    """What one step carries; filled by `Replica.plan_step`, applied by `Replica.finish_step`."""

    decodes: int
    decode_context: float
    prefills: list[tuple[Live, int]]  # (request, tokens this step)
    padding: int = 0  # static batching: finished sequences still computed
    prefill_tokens: int = 0
    extra_s: float = 0.0  # swap-in transfers
    decode_gap_s: float = 0.0  # set when the step ends: time since the previous decode step
    seconds: float = 0.0
    flops_per_chip: float = 0.0
    bytes_per_chip: float = 0.0


class Replica:
    def __init__(
        self,
        index: int,
        table: StepTable,
        kv: KVCache,
        config: SchedulerConfig,
        *,
        role: Role = "both",
        kv_bytes_per_block: float = 0.0,
    ) -> None:
        self.index = index
        self.table = table
        self.kv = kv
        self.config = config
        self.role = role
        self.kv_bytes_per_block = kv_bytes_per_block
        self.waiting: deque[Live] = deque()
        self.prefilling: list[Live] = []  # admitted, prompt not finished
        self.decoding: dict[int, Live] = {}  # id → request
        self.batch_done: int = 0  # static batching: finished but still padded into the batch
        self.steps = 0  # decode steps completed
        self.context_sum = 0  # sum of decoding requests' contexts
        self._finishing: list[tuple[int, int, Live]] = []  # (finishing step, id, request)
        self._block_due: list[set[int]] = [set() for _ in range(kv.block_size)]
        self.busy = False
        self.plan: StepPlan | None = None
        self.preemptions = 0
        self.last_decode_end_s = 0.0
        self._tokens_since_s: float | None = None  # when the decoding sequences last got tokens
        self._blocked: tuple[int, int] | None = (
            None  # (head request, kv.releases) of a failed admission
        )
        self._transfer_s = 0.0  # swap traffic to add to the next step

    # -- load signals for routers ---------------------------------------------------------------
    @property
    def outstanding(self) -> int:
        return len(self.waiting) + len(self.prefilling) + len(self.decoding)

    @property
    def running(self) -> int:
        return len(self.prefilling) + len(self.decoding)

    # -- admission ------------------------------------------------------------------------------
    def enqueue(self, request: Live) -> None:
        request.replica = self.index
        self.waiting.append(request)

    def _admit(self, request: Live) -> bool:
        """Reserve the cached prefix (or, on the decode side of a disaggregated pair, the whole
        transferred context); False when the KV cache has no room."""
        if self.role == "decode" or request.swapped:
            # the cache holds every token but the newest, which the next decode step writes
            self.kv.open(request.spec.id)
            if not self.kv.grow(request.spec.id, request.context - 1):
                self.kv.release(request.spec.id)
                return False
            return True
        cached = self.kv.admit(request.spec.id, request.hashes, request.to_prefill)
        if cached is None:
            return False
        request.prefilled = cached
        request.cached_tokens = cached
        return True

    # -- one step -------------------------------------------------------------------------------
    def plan_step(self, now: float) -> StepPlan | None:
        """The next step's contents, or None when there is nothing to run."""
        if self.config.batching != "continuous":
            return self._plan_batch(now)
        cfg = self.config
        self._allocate_decode_blocks()
        budget = cfg.max_num_batched_tokens - len(self.decoding)
        prefill_only = not cfg.chunked_prefill and cfg.policy == "prefill-first"
        prefills: list[tuple[Live, int]] = []
        if self.role != "decode":
            prefills, budget = self._continue_prefills(budget)
            if not prefill_only or not prefills:
                prefills += self._admit_waiting(budget, now)
        else:
            self._admit_transferred(now)
        decodes = len(self.decoding)
        if prefill_only and prefills:
            decodes = 0  # a prefill-only step: decoding sequences wait
        if cfg.policy == "prefill-first" and cfg.chunked_prefill and prefills:
            # prefills took the budget first; decodes only where tokens remain
            left = cfg.max_num_batched_tokens - sum(n for _, n in prefills)
            decodes = min(decodes, max(left, 0))
            if decodes < len(self.decoding):
                decodes = 0  # the engine runs all running decodes or none of them
        if not prefills and not decodes:
            return None
        return self._priced(
            StepPlan(
                decodes=decodes,
                decode_context=self.context_sum / len(self.decoding) if self.decoding else 0.0,
                prefills=prefills,
            )
        )

    def _priced(self, plan: StepPlan) -> StepPlan:
        plan.extra_s, self._transfer_s = self._transfer_s, 0.0
        tokens = plan.prefill_tokens = sum(n for _, n in plan.prefills)
        seqs = len(plan.prefills)
        past = sum(r.prefilled for r, _ in plan.prefills) / seqs if seqs else 0.0
        cost = self.table.cost(plan.decodes + plan.padding, plan.decode_context, tokens, seqs, past)
        plan.seconds = cost.seconds + plan.extra_s
        plan.flops_per_chip = cost.flops_per_chip
        plan.bytes_per_chip = cost.bytes_per_chip
        return plan

    def _continue_prefills(self, budget: int) -> tuple[list[tuple[Live, int]], int]:
        out: list[tuple[Live, int]] = []
        for r in self.prefilling:
            if budget <= 0:
                break
            n = min(r.to_prefill - r.prefilled, budget)
            if not self.kv.grow(r.spec.id, r.prefilled + n):
                break
            out.append((r, n))
            budget -= n
        return out, budget

    def _admit_waiting(self, budget: int, now: float) -> list[tuple[Live, int]]:
        cfg = self.config
        out: list[tuple[Live, int]] = []
        while self.waiting and budget > 0 and self.running < cfg.max_num_seqs:
            r = self.waiting[0]
            if self._blocked == (r.spec.id, self.kv.releases):
                break  # it did not fit, and nothing has been freed since
            if not self._admit(r):
                self._blocked = (r.spec.id, self.kv.releases)
                break
            if r.swapped:  # resumes decoding after its blocks come back from host memory
                self.waiting.popleft()
                r.swapped = False
                self._transfer_s += self._swap_s(r)
                self._join_decode(r)
                continue
            n = min(r.to_prefill - r.prefilled, budget)
            whole = n == r.to_prefill - r.prefilled
            if not cfg.chunked_prefill and not whole:
                self.kv.release(r.spec.id)  # waits for a step with room for the whole prompt
                break
            if not self.kv.grow(r.spec.id, r.prefilled + n):
                self.kv.release(r.spec.id)
                self._blocked = (r.spec.id, self.kv.releases)
                break
            self.waiting.popleft()
            if r.first_scheduled_s is None:
                r.first_scheduled_s = now
            self.prefilling.append(r)
            out.append((r, n))
            budget -= n
        return out

    def _admit_transferred(self, now: float) -> None:
        while self.waiting and self.running < self.config.max_num_seqs:
            r = self.waiting[0]
            if not self._admit(r):
                break
            self.waiting.popleft()
            self._join_decode(r)

    def _allocate_decode_blocks(self) -> None:
        """Before a decode step, give a new block to every sequence whose last block is full;
        preempt the most recently admitted sequences when blocks run out."""
        due = self._block_due[self.steps % self.kv.block_size]
        if not due or self.kv.add_blocks(due):
            return
        for rid in list(due):
            r = self.decoding.get(rid)
            if r is None:
                due.discard(rid)
                continue
            while not self.kv.grow(rid, self._context_now(r)):
                victim = self._newest_running()
                self._preempt(victim)
                if victim is r:
                    break

    def _newest_running(self) -> Live:
        if self.prefilling:
            return self.prefilling[-1]
        return max(self.decoding.values(), key=lambda r: (r.arrival_s, r.spec.id))

    def _preempt(self, r: Live) -> None:
        self.preemptions += 1
        r.preemptions += 1
        if r in self.prefilling:
            self.prefilling.remove(r)
        if r.spec.id in self.decoding:
            self._leave_decode(r)
            r.last_token_s = self.last_decode_end_s
        if self.config.preemption == "swap" and r.generated > 0:
            r.swapped = True  # its blocks go to host memory now and come back on resume
            self._transfer_s += self._swap_s(r)
            self.kv.release(r.spec.id)
        else:
            self.kv.release(r.spec.id)
            r.to_prefill = r.context  # recompute prompt and output so far
            r.prefilled = 0
        self.waiting.appendleft(r)

    def _swap_s(self, r: Live) -> float:
        bw = self.config.swap_bytes_per_s or float("inf")
        return self.kv.blocks_held(r.spec.id) * self.kv_bytes_per_block / bw

    def _context_now(self, r: Live) -> int:
        """Tokens a decoding request attends to in the coming step (its newest token included)."""
        return r.spec.prompt_tokens + r.join_generated + (self.steps - r.join_step)

    def _due_key(self, r: Live) -> int:
        """Bucket of the steps at which this request's cache fills a block: the cache holds
        `context − 1` tokens before a step, so a block is due when that is a multiple of the size."""
        return (r.join_step - (r.spec.prompt_tokens + r.join_generated) + 1) % self.kv.block_size

    def _join_decode(self, r: Live) -> None:
        self.decoding[r.spec.id] = r
        r.join_step = self.steps
        r.join_generated = r.generated
        self.context_sum += r.context
        left = r.spec.output_tokens - r.generated
        heapq.heappush(self._finishing, (self.steps + left, r.spec.id, r))
        self._block_due[self._due_key(r)].add(r.spec.id)

    def _leave_decode(self, r: Live) -> None:
        r.generated = r.join_generated + (self.steps - r.join_step)
        del self.decoding[r.spec.id]
        self.context_sum -= self._context_now(r)
        self._block_due[self._due_key(r)].discard(r.spec.id)

    # -- static and dynamic batching -----------------------------------------------------------
    def _plan_batch(self, now: float) -> StepPlan | None:
        cfg = self.config
        if not self.running:
            self.batch_done = 0
            if not self.waiting:
                return None
            full = len(self.waiting) >= cfg.batch_size
            waited = now - self.waiting[0].arrival_s
            ready = cfg.batching == "dynamic" or (
                cfg.max_wait_s is not None and waited >= cfg.max_wait_s - 1e-12
            )
            if cfg.batching == "dynamic" and cfg.max_wait_s is not None:
                ready = waited >= cfg.max_wait_s - 1e-12
            if not (full or ready):
                return None  # the loop sets a wake-up at the wait limit
            while self.waiting and len(self.prefilling) < cfg.batch_size:
                r = self.waiting[0]
                if not self._admit(r) or not self.kv.grow(r.spec.id, r.to_prefill):
                    self.kv.release(r.spec.id)
                    break
                self.waiting.popleft()
                r.first_scheduled_s = now
                self.prefilling.append(r)
        if self.prefilling:
            if cfg.batching == "static":  # one step, every prompt padded to the longest
                longest = max(r.to_prefill - r.prefilled for r in self.prefilling)
                prefills = [(r, longest) for r in self.prefilling]
            else:
                prefills, _ = self._continue_prefills(cfg.max_num_batched_tokens)
            return self._priced(StepPlan(decodes=0, decode_context=0.0, prefills=prefills))
        self._allocate_decode_blocks()
        padding = self.batch_done if cfg.batching == "static" else 0
        if not self.decoding:
            return None
        return self._priced(
            StepPlan(
                decodes=len(self.decoding),
                decode_context=self.context_sum / len(self.decoding),
                prefills=[],
                padding=padding,
            )
        )

    def wake_at(self) -> float | None:
        """When an idle batching replica should look at its queue again (wait limit), if ever."""
        cfg = self.config
        if cfg.batching == "continuous" or self.running or not self.waiting:
            return None
        if cfg.max_wait_s is None:
            return None
        return self.waiting[0].arrival_s + cfg.max_wait_s

    # -- step end -------------------------------------------------------------------------------
    def finish_step(self, plan: StepPlan, now: float) -> tuple[list[Live], list[Live], int]:
        """Apply a finished step; return the requests that finished, the prefills that completed
        on a prefill-only replica (they move to a decode replica), and the tokens emitted."""
        finished: list[Live] = []
        handoff: list[Live] = []
        emitted = plan.decodes
        if plan.decodes:
            self.steps += 1
            self.context_sum += len(self.decoding)
            while self._finishing and self._finishing[0][0] <= self.steps:
                _, _, r = heapq.heappop(self._finishing)
                if (
                    self.decoding.get(r.spec.id) is not r
                    or r.join_step + (r.spec.output_tokens - r.join_generated) != self.steps
                ):
                    continue  # stale entry of a preempted request
                self._leave_decode(r)
                self._complete(r, now)
                finished.append(r)
        for r, n in plan.prefills:
            r.prefilled += n
            if r.prefilled < r.to_prefill:
                continue
            self.prefilling.remove(r)
            emitted += 1
            self.kv.publish(r.spec.id, r.hashes)
            if r.first_token_s is None:
                r.first_token_s = now
            else:
                r.itl_gaps_s.append(now - r.last_token_s)
            r.last_token_s = now
            r.generated = (
                max(r.generated, 1) if r.to_prefill == r.spec.prompt_tokens else r.generated + 1
            )
            if r.generated >= r.spec.output_tokens:
                self._complete(r, now)
                finished.append(r)
            elif self.role == "prefill":
                self.kv.release(r.spec.id)
                handoff.append(r)
            else:
                self._join_decode(r)
        if plan.decodes:
            # what each decoding sequence waited for this token: prefill-only steps in between count
            since = self._tokens_since_s
            plan.decode_gap_s = now - since if since is not None else plan.seconds
            self.last_decode_end_s = now
        if not self.decoding:
            self._tokens_since_s = None
        elif plan.decodes or self._tokens_since_s is None:
            self._tokens_since_s = now
        return finished, handoff, emitted

    def _complete(self, r: Live, now: float) -> None:
        r.finish_s = now
        r.generated = r.spec.output_tokens
        if self.config.batching == "static" and self.running:
            self.batch_done += 1
        if r.spec.publishes is not None:
            own = r.spec.prompt_tokens + r.spec.output_tokens - r.spec.prefix_tokens
            chain = (*r.spec.prefix, (r.spec.publishes, own))
            self.kv.publish(r.spec.id, block_hashes(chain, self.kv.block_size))
        self.kv.release(r.spec.id)
