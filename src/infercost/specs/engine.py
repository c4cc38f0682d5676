"""Serving-engine limits that shape batching: how many sequences, how many tokens per step, how much memory."""

from __future__ import annotations

from pydantic import Field

from infercost.specs.model import Frozen

# Engine names of the validation schema (validation/README.md); limits come from the catalog.
ENGINE_NAMES = (
    "trtllm",
    "vllm",
    "sglang",
    "llama.cpp",
    "jetstream",
    "mlc",
    "exllama",
    "nim",
    "in-house",
    "other",
)

# Used when the catalog has no sourced default for an engine (stated in docs/model.md).
FALLBACK_MAX_NUM_SEQS = 256
FALLBACK_TOKEN_BUDGET = 8192
FALLBACK_MEMORY_UTILIZATION = 0.9


class Engine(Frozen):
    id: str
    name: str | None = None
    version: str | None = None
    max_num_seqs: int | None = Field(None, ge=1)
    max_num_batched_tokens: int | None = Field(None, ge=1)
    memory_utilization: float | None = Field(None, gt=0, le=1)
    kv_cache_free_mem_fraction: float | None = Field(None, gt=0, le=1)
    chunked_prefill: bool | None = None
    cuda_graphs: bool | None = None
    source: str | list[str] | None = None
    as_of: str | None = None
    field_sources: dict[str, str] = {}
    notes: str | None = None

    @property
    def batch_limit(self) -> int:
        return self.max_num_seqs or FALLBACK_MAX_NUM_SEQS

    @property
    def token_budget(self) -> int:
        return self.max_num_batched_tokens or FALLBACK_TOKEN_BUDGET

    def usable_memory_fraction(self, weights_and_reserve_fraction: float) -> float:
        """Share of device memory the engine plans with.

        TensorRT-LLM gives the KV cache a fraction of the memory left *after* weights; vLLM-style
        engines take a fraction of the whole device.
        """
        if self.kv_cache_free_mem_fraction is not None:
            used = weights_and_reserve_fraction
            return used + self.kv_cache_free_mem_fraction * max(0.0, 1.0 - used)
        return self.memory_utilization or FALLBACK_MEMORY_UTILIZATION


GENERIC_ENGINE = Engine(id="other")
