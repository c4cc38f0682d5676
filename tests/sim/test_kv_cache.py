"""Paged KV cache: block accounting by hand, prefix sharing, LRU eviction, sliding windows."""

from __future__ import annotations

from infercost.sim.kv_cache import KVCache, block_hashes


def test_blocks_are_allocated_as_sequences_grow_and_freed_on_release() -> None:
    kv = KVCache(10, 16, prefix_caching=False)
    assert kv.admit(1, [], 40) == 0
    assert kv.grow(1, 40)  # ceil(40 / 16) = 3 blocks
    assert kv.used == 3
    assert kv.grow(1, 48) and kv.used == 3  # still 3 blocks
    assert kv.grow(1, 49) and kv.used == 4
    assert not kv.grow(1, 16 * 11)  # 11 blocks > 10
    kv.release(1)
    assert kv.used == 0


def test_block_hashes_agree_exactly_up_to_a_shared_chain() -> None:
    a = block_hashes((("sys", 40), ("user-a", 30)), 16)
    b = block_hashes((("sys", 40), ("user-b", 30)), 16)
    assert len(a) == 4  # 70 tokens → 4 full blocks
    assert a[:2] == b[:2]  # blocks 0-1 lie inside the 40-token system prompt
    assert a[2] != b[2]  # block 2 spans sys and the user part


def test_prefix_cache_hits_count_whole_shared_blocks_and_never_the_last_token() -> None:
    kv = KVCache(100, 16)
    chain = block_hashes((("sys", 64),), 16)
    assert kv.admit(1, chain, 100) == 0  # nothing cached yet
    kv.grow(1, 100)
    kv.publish(1, chain)
    assert kv.admit(2, chain, 100) == 64  # 4 cached blocks reused
    assert kv.admit(3, chain, 64) == 48  # a prompt that is all prefix recomputes its last block
    assert kv.hit_rate == (64 + 48) / (100 + 100 + 64)


def test_unused_cached_blocks_are_evicted_least_recently_used_first() -> None:
    kv = KVCache(6, 16)
    old = block_hashes((("old", 32),), 16)
    new = block_hashes((("new", 32),), 16)
    for rid, chain in ((1, old), (2, new)):
        kv.admit(rid, chain, 40)
        kv.grow(rid, 40)  # 3 blocks each, 2 of them shared
        kv.publish(rid, chain)
        kv.release(rid)
    assert kv.used == 0 and kv.cached == 4
    kv.admit(3, [], 64)
    assert kv.grow(3, 64)  # needs 4 of 6: evicts the two "old" blocks first
    assert kv.cached == 2
    assert kv.cached_prefix_tokens(old, 100) == 0
    assert kv.cached_prefix_tokens(new, 100) == 32


def test_sliding_window_layers_only_pay_for_blocks_inside_the_window() -> None:
    # window of 2 blocks; window layers hold as many bytes per block as the full layers
    kv = KVCache(100, 16, window_blocks=2, window_share=1.0, prefix_caching=False)
    kv.admit(1, [], 160)
    kv.grow(1, 160)  # 10 blocks: 2 inside the window cost 2 each, 8 beyond cost 1
    assert kv.used == 2 * 2 + 8 * 1
    assert kv.cost_for(0, 10) == 12
    assert kv.cost_for(5, 3) == 3
