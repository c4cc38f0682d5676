"""What a load-generation run does: the target, the load pattern, the prompts and when to stop."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from infercost.errors import InfercostError

Endpoint = Literal["completions", "chat"]
Mode = Literal["concurrency", "rate", "poisson"]


class SaturationRule(BaseModel):
    """When a sweep stops raising the load (checked after every level but the first).

    The sweep is saturated at a level when, against the level before it, output-token throughput
    grew by less than `min_throughput_gain` (5 %) while p99 TTFT grew by at least
    `ttft_p99_growth` times (doubled): more load only buys queueing. It also stops at any level
    whose error rate exceeds the config's `max_error_rate`. The level that trips the rule is kept
    in the results; the levels after it are not run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_throughput_gain: float = Field(0.05, ge=0, allow_inf_nan=False)
    ttft_p99_growth: float = Field(2.0, gt=1, allow_inf_nan=False)


class BenchConfig(BaseModel):
    """One load-generation run against an OpenAI-compatible server.

    `levels` are concurrencies (closed loop, mode `concurrency`) or request rates in requests/s
    (open loop, modes `rate` and `poisson`). Each level sends `requests_per_level` requests, or
    sends for `duration_per_level_s` seconds when that is set (in-flight requests then finish).
    `prompt_tokens` counts the shared prefix; with `turns` > 1 every turn adds `prompt_tokens`
    new tokens to a conversation that carries the earlier turns and answers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=1)
    model: str = Field(min_length=1)
    endpoint: Endpoint = "completions"
    mode: Mode = "concurrency"
    levels: tuple[float, ...] = (1, 2, 4, 8)
    requests_per_level: int = Field(50, ge=1, le=1_000_000)
    duration_per_level_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    prompt_tokens: int = Field(512, ge=1, le=1_000_000)
    output_tokens: int = Field(128, ge=1, le=1_000_000)
    shared_prefix_tokens: int = Field(0, ge=0, le=1_000_000)
    turns: int = Field(1, ge=1, le=1000)
    seed: int = 0
    timeout_s: float = Field(120.0, gt=0, allow_inf_nan=False)
    max_error_rate: float = Field(0.1, ge=0, le=1, allow_inf_nan=False)
    saturation: SaturationRule = SaturationRule()
    stop_at_saturation: bool = True
    ignore_eos: bool = Field(
        False, description="Send vLLM's `ignore_eos` so every answer has `output_tokens` tokens."
    )

    @model_validator(mode="after")
    def _check(self) -> BenchConfig:
        if not self.url.startswith(("http://", "https://")):
            raise InfercostError("url", self.url, "must start with http:// or https://")
        if not self.levels:
            raise InfercostError("levels", self.levels, "give at least one level")
        for level in self.levels:
            if not math.isfinite(level) or level <= 0:
                raise InfercostError("levels", level, "each level must be a finite number > 0")
            if self.mode == "concurrency" and level != int(level):
                raise InfercostError("levels", level, "concurrencies must be whole numbers")
        if self.shared_prefix_tokens >= self.prompt_tokens:
            raise InfercostError(
                "shared_prefix_tokens",
                self.shared_prefix_tokens,
                f"must be < prompt_tokens ({self.prompt_tokens})",
            )
        return self
