"""What one request may ask of the server: body size, grid size, simulation length, queued jobs."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infercost.errors import InfercostError


@dataclass(frozen=True)
class Limits:
    """Server-side limits; every one is a `infercost serve` option."""

    max_body_bytes: int = 1 << 20  # JSON and form bodies
    max_upload_bytes: int = 16 << 20  # multipart uploads (validation CSV, telemetry files)
    max_grid_points: int = 1024  # configurations one request may evaluate (batches × chip counts)
    max_sim_requests: int = 20_000  # workload.requests of one simulation
    max_sim_seconds: float = 120.0  # wall-clock time of one simulation
    max_plan_seconds: float = 600.0  # wall-clock time of one plan (screening + verification)
    max_audit_files: int = 20  # files in one audit upload
    max_queued_jobs: int = 4  # simulations waiting or running at once
    max_kept_jobs: int = 64  # finished jobs kept for their result URL

    def check_grid(self, field: str, points: int) -> None:
        if points > self.max_grid_points:
            raise InfercostError(
                field, points, f"at most {self.max_grid_points} points per request (server limit)"
            )


class BodySizeLimit:
    """Refuse bodies over the limit with 413 before the app reads them (Content-Length), or as soon
    as a chunked body passes it; multipart uploads get their own, larger limit."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    def _limit(self, scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-type" and value.lower().startswith(b"multipart/form-data"):
                return self.limits.max_upload_bytes
        return self.limits.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _refuse(send, 400, "Content-Length is not a number")
                    return
                if declared > limit:
                    await _refuse(send, 413, _too_large(limit))
                    return
        seen = 0
        refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # answer now; the app sees a client that went away and its reply is dropped
                    refused = True
                    await _refuse(send, 413, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, guarded)


def _too_large(limit: int) -> str:
    return f"request body is larger than the server's limit of {limit:,} bytes"


async def _refuse(send: Send, status: int, message: str) -> None:
    import json

    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
