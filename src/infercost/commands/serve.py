"""`infercost serve`: the HTTP API and dashboard."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Placeholder until the command lands."""
