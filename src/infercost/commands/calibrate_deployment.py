"""`infercost calibrate`: fit a deployment profile (efficiency, per-step overhead) from bench results."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Placeholder until the command lands."""
