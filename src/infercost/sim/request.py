"""What a workload hands the simulator: one request, before it is served."""

from __future__ import annotations

from dataclasses import dataclass

# A named run of prompt tokens that is identical wherever the name appears (a system prompt, an
# earlier turn of a session). Requests whose prompts start with the same chain of segments share
# those tokens' KV blocks when prefix caching is on.
Segment = tuple[str, int]


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One request as the workload generates it (times in seconds from the start of the run).

    `prefix` is the chain of named segments the prompt starts with (their tokens are part of
    `prompt_tokens`). `publishes` names the rest of this request — its own prompt tokens after the
    prefix plus its output — so a later request (the next turn of a session) can list
    `(publishes, that many tokens)` as the next segment of its own prefix.

    Turns after the first of a session (`session` set, `think_s` set) arrive `think_s` after the
    previous turn of the same session finishes; their `arrival_s` is then only a lower bound.
    """

    id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    request_class: str = "default"
    prefix: tuple[Segment, ...] = ()
    publishes: str | None = None
    session: int | None = None
    turn: int = 0
    think_s: float | None = None

    @property
    def prefix_tokens(self) -> int:
        return sum(n for _, n in self.prefix)
