"""`infercost calibrate`: fit a deployment profile (efficiency, per-step overhead) from bench results."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infercost.calibration import CalibrationProfile, fit_calibration, save_calibration
from infercost.commands.base import JsonFlag, console, print_json, user_errors

UNITS = {"ttft_ms": "ms", "tpot_ms": "ms", "output_tps": "tok/s"}


def parameters_table(profile: CalibrationProfile) -> Table:
    table = Table(title=f"calibration {profile.name}")
    for column in ("parameter", "shipped", "fitted", "note"):
        table.add_column(column)
    for name in profile.fitted:
        note = "at a bound" if name in profile.at_bounds else ""
        table.add_row(
            name,
            f"{getattr(profile.start, name):.4g}",
            f"{getattr(profile.efficiency, name):.4g}",
            note,
        )
    return table


def points_table(profile: CalibrationProfile) -> Table:
    table = Table(title="measured vs calibrated model")
    for column in (
        "file",
        "level",
        "in flight",
        "isl / osl",
        "metric",
        "measured",
        "model",
        "error",
    ):
        table.add_column(column)
    for p in profile.points:
        unit = UNITS.get(p.metric, "")
        table.add_row(
            Path(p.file).name,
            f"{p.mode} {p.level:g}" if p.level is not None else p.mode,
            f"{p.concurrency:.1f}",
            f"{p.isl:.0f} / {p.osl:.0f}",
            p.metric,
            f"{p.measured:.4g} {unit}",
            f"{p.predicted:.4g} {unit}",
            f"{p.error_pct:+.1f} %",
        )
    return table


def fit_error_line(profile: CalibrationProfile) -> str:
    e = profile.fit_error
    per_metric = ", ".join(f"{m} {v:.1f} %" for m, v in e.by_metric.items())
    return (
        f"fit error: MdAPE {e.mdape_pct:.1f} %, MAPE {e.mape_pct:.1f} %, max {e.max_ape_pct:.1f} % "
        f"over {e.points} measured figures (MdAPE by metric: {per_metric})"
    )


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate_cmd(
        results: Annotated[
            list[Path],
            typer.Argument(help="infercost bench JSON, vLLM `bench serve` or GuideLLM results."),
        ],
        hardware: Annotated[
            str, typer.Option("--hardware", "-H", help="Catalog id or a hardware spec YAML.")
        ],
        model: Annotated[str, typer.Option(help="Catalog model id, or a config.json file/dir.")],
        engine: Annotated[
            str | None, typer.Option(help="Serving engine measured: vllm, sglang, trtllm, …")
        ] = None,
        tp: Annotated[int | None, typer.Option(help="Tensor-parallel degree served.")] = None,
        pp: Annotated[int | None, typer.Option(help="Pipeline-parallel stages served.")] = None,
        weights: Annotated[
            str | None, typer.Option(help="Weight format served (default: the checkpoint's).")
        ] = None,
        kv: Annotated[str | None, typer.Option(help="KV-cache format served.")] = None,
        max_num_batched_tokens: Annotated[
            int | None, typer.Option(help="The server's token budget per step (engine default).")
        ] = None,
        name: Annotated[str | None, typer.Option(help="Name stored in the profile.")] = None,
        out: Annotated[Path, typer.Option(help="Where to write the profile YAML.")] = Path(
            "calibration.yaml"
        ),
        as_json: JsonFlag = False,
    ) -> None:
        """Fit this deployment's efficiency and per-step overhead; save a calibration profile."""
        with (
            user_errors(),
            console.status("fitting", spinner="dots") if not as_json else nullcontext(),
        ):
            profile = fit_calibration(
                results,
                hardware=hardware,
                model=model,
                engine=engine,
                tp=tp,
                pp=pp,
                weights=weights,
                kv=kv,
                max_num_batched_tokens=max_num_batched_tokens,
                name=name,
            )
            save_calibration(profile, out)
        if as_json:
            print_json(
                {
                    **profile.summary(),
                    "out": str(out),
                    "points": [p.model_dump(mode="json") for p in profile.points],
                }
            )
            return
        console.print(parameters_table(profile))
        console.print(points_table(profile))
        for f in profile.data:
            for reason in f.levels_skipped:
                console.print(f"skipped {reason}", highlight=False)
        console.print(
            f"per-step overhead {profile.per_step_overhead_ms:.3g} ms; "
            f"compute {profile.efficiency.compute:.3g} and memory "
            f"{profile.efficiency.memory:.3g} of the spec's peaks",
            highlight=False,
        )
        console.print(fit_error_line(profile), highlight=False)
        console.print(f"profile written to {out}", highlight=False)
