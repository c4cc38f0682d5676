"""`infercost serve`: the HTTP API and dashboard."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from infercost.commands.base import console, errors, user_errors
from infercost.errors import InfercostError

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: Annotated[
            str, typer.Option(help="Address to bind (loopback by default: only this machine).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
        data_dir: Annotated[
            Path | None,
            typer.Option(
                help="The only folder requests may read files from (configs, specs, traces). "
                "Without it, requests name catalog ids only."
            ),
        ] = None,
        validation_csv: Annotated[
            Path | None,
            typer.Option(help="Measurements for the accuracy page (default: shared/validation)."),
        ] = None,
        max_body_bytes: Annotated[int, typer.Option(help="Largest JSON body.", min=1)] = 1 << 20,
        max_upload_bytes: Annotated[int, typer.Option(help="Largest upload.", min=1)] = 16 << 20,
        max_grid_points: Annotated[
            int, typer.Option(help="Configurations one request may evaluate.", min=1)
        ] = 1024,
        max_sim_requests: Annotated[
            int, typer.Option(help="Requests one simulation may serve.", min=1)
        ] = 20_000,
        max_sim_seconds: Annotated[
            float, typer.Option(help="Wall-clock seconds one simulation may run.", min=0.1)
        ] = 120.0,
        log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    ) -> None:
        """Serve the JSON API (/api, docs at /docs) and the dashboard (/) with uvicorn."""
        import uvicorn

        from infercost.api import Limits, create_app

        with user_errors():
            if data_dir is not None and not data_dir.is_dir():
                raise InfercostError("data_dir", str(data_dir), "must be an existing folder")
            if validation_csv is not None and not validation_csv.is_file():
                raise InfercostError("validation_csv", str(validation_csv), "no such file")
            limits = Limits(
                max_body_bytes=max_body_bytes,
                max_upload_bytes=max_upload_bytes,
                max_grid_points=max_grid_points,
                max_sim_requests=max_sim_requests,
                max_sim_seconds=max_sim_seconds,
            )
            api = create_app(data_dir, limits=limits, validation_csv=validation_csv)
        if not is_loopback(host):
            errors.print(
                f"[bold yellow]warning:[/] binding to {host}: the API has no authentication; "
                "anyone who can reach this address can use it",
                highlight=False,
            )
        shown = f"[{host}]" if ":" in host else host
        console.print(f"infercost dashboard at http://{shown}:{port}/ — API docs at /docs")
        uvicorn.run(api, host=host, port=port, log_level=log_level)
