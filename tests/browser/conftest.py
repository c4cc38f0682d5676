"""A real server on loopback and Debian's chromium driven by Playwright (no browser download).

Skipped, with the reason, when /usr/bin/chromium or Playwright is missing — unless
INFERCOST_REQUIRE_BROWSER=1 (set by .ci/browser_tests.sh), which turns the skip into a failure.
Screenshots go to $INFERCOST_ARTIFACTS/screenshots (default .ci/artifacts/screenshots).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).parents[2]
ARTIFACTS = Path(os.environ.get("INFERCOST_ARTIFACTS", REPO / ".ci" / "artifacts"))


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium; .ci/browser_tests.sh does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[browser]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    why = _missing()
    if why is None:
        return
    if os.environ.get("INFERCOST_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"browser tests required but {why}")
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.skip(reason=why))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    import uvicorn

    from infercost.api import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@dataclass
class Watched:
    """A page and what it did that it should not have: other hosts, console errors."""

    page: Any
    base: str
    foreign: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.foreign, f"requests to other hosts: {self.foreign}"
        assert not self.problems, f"browser errors: {self.problems}"

    def shot(self, name: str) -> Path:
        folder = ARTIFACTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    watched = Watched(pg, base_url)
    pg.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(base_url) or r.url.startswith("data:")
            else watched.foreign.append(r.url)
        ),
    )
    pg.on(
        "console",
        lambda m: watched.problems.append(f"console: {m.text}") if m.type == "error" else None,
    )
    pg.on("pageerror", lambda e: watched.problems.append(f"page error: {e}"))
    pg.set_default_timeout(60_000)
    yield watched
    context.close()


NUMBER = re.compile(r"-?[\d,]*\.?\d+")


def shown_equals(text: str, value: float | int | None) -> bool:
    """The text shows `value` rounded to the digits shown ('—' for unknown)."""
    if value is None:
        return text.strip() == "—"
    match = NUMBER.search(text)
    if match is None:
        return False
    digits = match.group(0)
    shown = float(digits.replace(",", ""))
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return abs(shown - float(value)) <= 0.5 * 10 ** (-decimals) * (1 + 1e-9) + 1e-12
