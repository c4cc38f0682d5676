"""One streamed request to an OpenAI-compatible server, timed on the monotonic clock.

The server answers `stream: true` with server-sent events: `data: {json}` lines, then
`data: [DONE]`. A completions chunk carries its text in `choices[0].text`, a chat chunk in
`choices[0].delta.content`; we ask for `stream_options: {include_usage: true}`, so the last chunk
before `[DONE]` has empty `choices` and `usage` (`prompt_tokens`, `completion_tokens`). Each chunk
with non-empty text is one token arrival (servers that pack several tokens in a chunk make fewer,
longer gaps; the token count then comes from `usage`). Without `usage` the output token count is
the number of text chunks and the prompt count is the caller's estimate.

Anything that keeps a request from finishing (connection errors, HTTP status ≥ 400, an `error`
event, a timeout, an unreadable chunk, no text at all) makes it a failure with a short reason; a
failure's timings never enter latency statistics.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from infercost.bench.config import Endpoint


@dataclass(frozen=True)
class RequestRecord:
    """One request: monotonic times in seconds, token counts, and why it failed (None: it did not)."""

    sent_s: float
    token_times_s: tuple[float, ...]
    end_s: float
    prompt_tokens: int
    output_tokens: int
    usage_reported: bool
    error: str | None = None
    text: str = ""
    turn: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def ttft_s(self) -> float:
        """Sent → first content token (queueing included)."""
        return self.token_times_s[0] - self.sent_s if self.token_times_s else float("nan")

    @property
    def e2e_s(self) -> float:
        """Sent → last token."""
        return self.token_times_s[-1] - self.sent_s if self.token_times_s else float("nan")

    @property
    def tpot_s(self) -> float:
        """(E2E − TTFT) / (output tokens − 1); NaN below two output tokens."""
        if self.output_tokens < 2 or not self.token_times_s:
            return float("nan")
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)

    @property
    def itl_s(self) -> tuple[float, ...]:
        """Gaps between consecutive streamed tokens."""
        t = self.token_times_s
        return tuple(b - a for a, b in itertools.pairwise(t))


def endpoint_url(url: str, endpoint: Endpoint) -> str:
    """The full URL: a URL already naming the route is kept; else `/v1/...` is appended."""
    base = url.rstrip("/")
    route = "chat/completions" if endpoint == "chat" else "completions"
    if base.endswith(("/completions", "/chat/completions")):
        return base
    if base.endswith("/v1"):
        return f"{base}/{route}"
    return f"{base}/v1/{route}"


def request_body(
    model: str,
    endpoint: Endpoint,
    *,
    prompt: str,
    messages: list[dict[str, str]],
    max_tokens: int,
    ignore_eos: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
    }
    if endpoint == "chat":
        body["messages"] = messages
    else:
        body["prompt"] = prompt
    if ignore_eos:
        body["ignore_eos"] = True
    return body


def _chunk_text(chunk: dict[str, Any], endpoint: Endpoint) -> str:
    choices = chunk.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    first = choices[0]
    if endpoint == "chat":
        delta = first.get("delta") or {}
        text = delta.get("content") if isinstance(delta, dict) else None
    else:
        text = first.get("text")
    return text if isinstance(text, str) else ""


async def send_request(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    endpoint: Endpoint,
    *,
    prompt_tokens_estimate: int,
    timeout_s: float,
    turn: int = 0,
) -> RequestRecord:
    """Send one streamed request and time every content chunk; never raises for server trouble."""
    sent = time.monotonic()
    times: list[float] = []
    pieces: list[str] = []
    usage: dict[str, Any] | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout_s), client.stream("POST", url, json=body) as response:
            if response.status_code >= 400:
                await response.aread()
                error = f"HTTP {response.status_code}"
            else:
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except json.JSONDecodeError:
                        error = "malformed chunk"
                        break
                    if not isinstance(chunk, dict):
                        error = "malformed chunk"
                        break
                    if chunk.get("error"):
                        error = "error event"
                        break
                    text = _chunk_text(chunk, endpoint)
                    if text:
                        times.append(time.monotonic())
                        pieces.append(text)
                    if isinstance(chunk.get("usage"), dict):
                        usage = chunk["usage"]
    except TimeoutError:
        error = "timeout"
    except httpx.TimeoutException:
        error = "timeout"
    except httpx.HTTPError as err:
        error = type(err).__name__
    end = time.monotonic()
    if error is None and not times:
        error = "no tokens"
    out_tokens = len(times)
    prompt_tokens = prompt_tokens_estimate
    if usage is not None:
        completion = usage.get("completion_tokens")
        prompt = usage.get("prompt_tokens")
        if isinstance(completion, int) and completion > 0:
            out_tokens = completion
        if isinstance(prompt, int) and prompt > 0:
            prompt_tokens = prompt
    return RequestRecord(
        sent_s=sent,
        token_times_s=tuple(times),
        end_s=end,
        prompt_tokens=prompt_tokens,
        output_tokens=out_tokens,
        usage_reported=usage is not None,
        error=error,
        text="".join(pieces),
        turn=turn,
    )
