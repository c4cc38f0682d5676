"""Ingest telemetry and request logs into the local DuckDB store.

`ingest(paths, store_path)` reads each file (nvidia-smi CSV, Prometheus text from DCGM / vLLM / SGLang,
OpenAI-style JSONL, LiteLLM spend logs), converts units to SI, and adds its rows to the store in one
transaction per file. A file whose SHA-256 is already in `ingested_files` adds nothing. A malformed line
raises `InfercostError` naming the file and line number, and nothing from that file is stored.

`scrape(url, store_path, duration_s=..., interval_s=...)` polls a `/metrics` endpoint, writes the
scrapes to one text file (each starting with a `# scrape at <ISO time>` line, see `prometheus.py`) and
ingests it.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from infercost.errors import InfercostError
from infercost.ingest import nvidia_smi, prometheus, request_logs
from infercost.ingest.store import (
    KINDS,
    FileIngest,
    IngestReport,
    Parsed,
    Store,
    sha256_of,
)

DEFAULT_STORE = Path(".infercost/store.duckdb")

__all__ = [
    "DEFAULT_STORE",
    "KINDS",
    "FileIngest",
    "IngestReport",
    "Store",
    "detect_kind",
    "ingest",
    "scrape",
]


def detect_kind(path: Path, text: str) -> str:
    """Which reader a file needs, from its start (and its name when that is not enough)."""
    head = text[:65536]
    stripped = head.lstrip()
    if nvidia_smi.looks_like(head):
        return "nvidia-smi"
    if stripped.startswith(("[", "{")):
        first: object = None
        try:
            first = next((obj for _, _, obj in request_logs.records(path, text)), None)
        except InfercostError:
            first = None
        return "litellm" if request_logs.is_litellm(first) else "openai-jsonl"
    first_line = stripped.splitlines()[0] if stripped else ""
    if "startTime" in first_line and ("spend" in first_line or "request_id" in first_line):
        return "litellm"
    if prometheus.looks_like(head):
        return "prometheus"
    raise InfercostError(
        "kind",
        str(path),
        f"a file of a known kind ({', '.join(KINDS)}); pass --kind to say which",
    )


def _parse(path: Path, text: str, kind: str) -> Parsed:
    if kind == "nvidia-smi":
        return nvidia_smi.parse(path, text)
    if kind == "prometheus":
        return prometheus.parse(path, text, mtime_s=path.stat().st_mtime)
    return request_logs.parse(path, text, kind)


def _read(path: Path) -> str:
    if not path.is_file():
        raise InfercostError("file", str(path), "an existing, readable file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InfercostError("file", str(path), "UTF-8 text") from None


def ingest(
    paths: Iterable[Path | str], store_path: Path | str = DEFAULT_STORE, *, kind: str | None = None
) -> IngestReport:
    """Add each file to the store; `kind` forces the reader (default: detect per file)."""
    if kind not in (None, "auto", *KINDS):
        raise InfercostError("kind", kind, f"auto or one of {', '.join(KINDS)}")
    files = [Path(p) for p in paths]
    if not files:
        raise InfercostError("files", "", "at least one file to ingest")
    results: list[FileIngest] = []
    with Store(store_path) as store:
        for path in files:
            text = _read(path)
            sha = sha256_of(path)
            seen = store.known(sha)
            if seen is not None:
                results.append(
                    FileIngest(
                        path=str(path),
                        sha256=sha,
                        kind=seen[1],
                        engine=None,
                        added=False,
                        rows={},
                        start_time=None,
                        end_time=None,
                        time_from_mtime=False,
                        notes=(f"already ingested as {seen[0]}; nothing added",),
                    )
                )
                continue
            chosen = detect_kind(path, text) if kind in (None, "auto") else kind
            results.append(store.add(path, sha, _parse(path, text, chosen)))
    return IngestReport(store_path=str(store_path), files=tuple(results))


def _fetch(url: str, timeout_s: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body: bytes = response.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise InfercostError(
            "url", url, f"a reachable Prometheus /metrics endpoint ({reason})"
        ) from None
    return body.decode("utf-8", errors="replace")


def scrape(
    url: str,
    store_path: Path | str = DEFAULT_STORE,
    *,
    duration_s: float,
    interval_s: float,
    save_to: Path | str | None = None,
    on_scrape: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> IngestReport:
    """Scrape `url` every `interval_s` for `duration_s` (at least once), save the text and ingest it.

    The file goes to `save_to`, or `<store dir>/scrapes/scrape-<UTC time>.prom`. `on_scrape(done, total)`
    is called after each scrape.
    """
    if not url.startswith(("http://", "https://")):
        raise InfercostError("url", url, "an http:// or https:// URL of a /metrics endpoint")
    if not duration_s > 0:
        raise InfercostError("duration_s", duration_s, "a positive number of seconds")
    if not interval_s > 0:
        raise InfercostError("interval_s", interval_s, "a positive number of seconds")
    total = max(1, int(duration_s / interval_s + 1e-9))
    started = clock()
    stamp = datetime.fromtimestamp(started, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(save_to) if save_to else Path(store_path).parent / "scrapes" / f"scrape-{stamp}.prom"
    out.parent.mkdir(parents=True, exist_ok=True)
    timeout_s = max(1.0, min(interval_s, 30.0))
    with out.open("w", encoding="utf-8") as fh:
        for i in range(total):
            due = started + i * interval_s
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            taken = clock()
            body = _fetch(url, timeout_s)
            fh.write(prometheus.scrape_marker(taken) + "\n")
            fh.write(body if body.endswith("\n") else body + "\n")
            fh.flush()
            if on_scrape is not None:
                on_scrape(i + 1, total)
    return ingest([out], store_path, kind="prometheus")
