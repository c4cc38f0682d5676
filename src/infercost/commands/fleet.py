"""`infercost fleet`, `infercost pack`, `infercost route`: fleets over time, multi-tenant packing, routing."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Placeholder until the command lands."""
