"""`infercost audit`: utilization, waste and quantified recommendations for a real deployment."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Placeholder until the command lands."""
