"""What every command shares: one-line user errors, progress bars, JSON output, the consoles."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from infercost.errors import InfercostError

console = Console()
errors = Console(stderr=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user mistake into one line on stderr and exit status 2 — never a traceback."""
    try:
        yield
    except InfercostError as err:
        errors.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        errors.print(f"[bold red]error:[/] {where}: {first['msg']}", highlight=False)
        raise typer.Exit(2) from None


@contextmanager
def progress_bar(total: int, label: str, *, quiet: bool) -> Iterator[Callable[[], None]]:
    """A Rich progress bar on stderr for long work (silent with --json)."""
    if quiet:
        yield lambda: None
        return
    with Progress(console=errors, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
