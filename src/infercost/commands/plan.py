"""`infercost plan`: the cheapest deployment that meets the SLOs of a workload."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Placeholder until the command lands."""
