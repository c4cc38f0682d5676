"""Paged KV cache of one replica: fixed-size blocks, per-request allocation, prefix caching.

Capacity is counted in blocks of `block_size` tokens of every full-attention layer. Sliding-window
layers hold at most `window_blocks` blocks per sequence (older blocks are recycled), so their share
of a block's bytes is only paid for a sequence's first `window_blocks` blocks; `window_share` is that
share (0 for models without windows). A block's cost is therefore 1 (beyond the window) or
`1 + window_share` (inside it) in units of the full-attention part, and capacity is in those units.

Prefix caching (as in vLLM): a full block whose tokens are identical for several requests is keyed
by a hash of its content chain; a request reuses the longest run of cached blocks from its start.
Blocks no request holds stay cached until space is needed, then go least recently used first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from infercost.sim.request import Segment


def block_hashes(chain: tuple[Segment, ...], block_size: int) -> list[int]:
    """Content hashes of the full blocks covered by a chain of named segments.

    Block j's hash covers the names of every segment overlapping tokens [0, (j+1)·block_size), so two
    chains share block j exactly when they agree on everything up to its end.
    """
    hashes: list[int] = []
    previous = 0
    start = 0  # first token of the current segment
    names: list[str] = []
    covered = 0  # tokens covered by completed hashes
    for name, tokens in chain:
        names.append(name)
        end = start + tokens
        while covered + block_size <= end:
            covered += block_size
            previous = hash((previous, tuple(names), covered))
            hashes.append(previous)
            names = [name] if covered < end else []
        start = end
    return hashes


@dataclass
class _Held:
    """What one request holds: shared (hashed) blocks first, then private ones."""

    shared: list[int] = field(default_factory=list)
    private: int = 0
    cost: float = 0.0


class KVCache:
    """Block accounting for one replica; all sizes in blocks (see the module docstring)."""

    def __init__(
        self,
        capacity_blocks: float,
        block_size: int,
        *,
        window_blocks: int | None = None,
        window_share: float = 0.0,
        prefix_caching: bool = True,
    ) -> None:
        self.capacity = float(capacity_blocks)
        self.block_size = block_size
        self.window_blocks = window_blocks
        self.window_share = window_share
        self.prefix_caching = prefix_caching
        self.used = 0.0  # cost of blocks held by requests
        self.cached = 0.0  # cost of cached blocks no request holds (evictable)
        self._held: dict[int, _Held] = {}
        self._refs: dict[int, int] = {}  # hash → requests holding it
        self._free_cached: OrderedDict[int, float] = OrderedDict()  # hash → cost, LRU first
        self._cost_of_hash: dict[int, float] = {}
        self.hit_tokens = 0
        self.query_tokens = 0
        self.releases = 0  # bumps whenever blocks go back, so a blocked admission can retry

    # -- sizes -----------------------------------------------------------------------------------
    def block_cost(self, index: int) -> float:
        """Cost of a sequence's `index`-th block (0-based)."""
        inside = self.window_blocks is None or index < self.window_blocks
        return 1.0 + (self.window_share if inside else 0.0)

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    def cost_for(self, first: int, count: int) -> float:
        """Cost of blocks `first` … `first + count − 1` of one sequence."""
        if count <= 0:
            return 0.0
        if self.window_blocks is None or self.window_share == 0.0:
            return count * (1.0 + self.window_share)
        inside = max(0, min(first + count, self.window_blocks) - first)
        return count + inside * self.window_share

    @property
    def available(self) -> float:
        """Room for new blocks, counting evictable cached blocks as free."""
        return self.capacity - self.used

    @property
    def occupancy(self) -> float:
        return self.used / self.capacity if self.capacity > 0 else 0.0

    @property
    def hit_rate(self) -> float:
        return self.hit_tokens / self.query_tokens if self.query_tokens else 0.0

    # -- requests --------------------------------------------------------------------------------
    def blocks_held(self, request: int) -> int:
        held = self._held.get(request)
        return 0 if held is None else len(held.shared) + held.private

    def cached_prefix_tokens(self, hashes: list[int], prompt_tokens: int) -> int:
        """Tokens of a prompt's start already cached (never the whole prompt: its last token is
        always recomputed to produce the first output token)."""
        if not self.prefix_caching:
            return 0
        hits = 0
        for h in hashes:
            if h not in self._refs and h not in self._free_cached:
                break
            hits += 1
        return min(
            hits * self.block_size, max(prompt_tokens - 1, 0) // self.block_size * self.block_size
        )

    def open(self, request: int) -> None:
        """Start holding blocks for a request that arrives with its context computed elsewhere
        (a disaggregated hand-off, or a swap-in): no prefix lookup."""
        self._held.setdefault(request, _Held())

    def admit(self, request: int, hashes: list[int], prompt_tokens: int) -> int | None:
        """Take the cached prefix blocks of a new request; return the cached tokens, or None when
        even the reused blocks do not fit (nothing is taken then)."""
        cached = self.cached_prefix_tokens(hashes, prompt_tokens)
        reuse = hashes[: cached // self.block_size]
        revive = sum(self._free_cached.get(h, 0.0) for h in reuse)
        if revive > self.capacity - self.used + 1e-9:
            return None
        held = _Held()
        for h in reuse:
            if h in self._free_cached:
                cost = self._free_cached.pop(h)
                self.cached -= cost
                self.used += cost
            self._refs[h] = self._refs.get(h, 0) + 1
            held.shared.append(h)
            held.cost += self._cost_of_hash[h]
        self._held[request] = held
        self.query_tokens += prompt_tokens
        self.hit_tokens += cached
        return cached

    def grow(self, request: int, tokens: int) -> bool:
        """Make room for `tokens` tokens in total for a request; False when blocks run out."""
        held = self._held[request]
        have = len(held.shared) + held.private
        need = self.blocks_for(tokens) - have
        if need <= 0:
            return True
        cost = self.cost_for(have, need)
        if not self._make_room(cost):
            return False
        held.private += need
        held.cost += cost
        self.used += cost
        return True

    def add_blocks(self, requests: list[int] | set[int]) -> bool:
        """One more block for each request (each filled its last block in a decode step) when
        every block costs the same; False (nothing taken) when they do not all fit."""
        unit = 1.0 + self.window_share
        if self.window_blocks is not None and self.window_share:
            return False  # costs depend on each sequence's block index: use `grow`
        cost = unit * len(requests)
        if cost > self.capacity - self.used + 1e-9:
            return False
        if self.used + self.cached + cost > self.capacity + 1e-9:
            self._make_room(cost)
        for request in requests:
            held = self._held[request]
            held.private += 1
            held.cost += unit
        self.used += cost
        return True

    def publish(self, request: int, hashes: list[int]) -> None:
        """Mark a request's first blocks as holding the content of `hashes` (after they are
        computed), so later requests can reuse them."""
        if not self.prefix_caching:
            return
        held = self._held[request]
        start = len(held.shared)
        for index in range(start, min(len(hashes), start + held.private)):
            h = hashes[index]
            if h in self._refs or h in self._free_cached:
                break  # another request cached this content first; ours stays private
            held.private -= 1
            held.shared.append(h)
            self._refs[h] = 1
            self._cost_of_hash[h] = self.block_cost(index)

    def release(self, request: int) -> None:
        """A request finished or was preempted: private blocks go free, shared ones stay cached."""
        held = self._held.pop(request, None)
        if held is None:
            return
        self.releases += 1
        private_cost = held.cost - sum(self._cost_of_hash[h] for h in held.shared)
        self.used -= private_cost
        for h in held.shared:
            refs = self._refs[h] - 1
            if refs:
                self._refs[h] = refs
                continue
            del self._refs[h]
            cost = self._cost_of_hash[h]
            self.used -= cost
            self.cached += cost
            self._free_cached[h] = cost
        self.used = max(self.used, 0.0)

    def _make_room(self, cost: float) -> bool:
        if cost > self.capacity - self.used + 1e-9:
            return False
        while self.used + self.cached + cost > self.capacity + 1e-9 and self._free_cached:
            h, freed = self._free_cached.popitem(last=False)
            del self._cost_of_hash[h]
            self.cached -= freed
        return True
