"""`infercost` command line: parse, call the library, render. No modelling happens here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from infercost import catalog
from infercost.calibration import efficiency_for
from infercost.commands import (
    audit,
    bench,
    calibrate_deployment,
    compare,
    cost,
    fleet,
    frontier,
    ingest,
    plan,
    price,
    report,
    serve,
    simulate,
    tco,
)
from infercost.commands.base import (
    JsonFlag,
    console,
    print_json,
    progress_bar,
    user_errors,
)
from infercost.estimation import estimate
from infercost.report import terminal
from infercost.report.files import write_calibration, write_held_out_csv, write_rows_csv
from infercost.validation import calibrate, predict_rows
from infercost.validation.rows import read_rows
from infercost.validation.score import report as score_report

app = typer.Typer(
    help="LLM inference economics: latency, throughput and dollars for a model on hardware.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
CalibrationOption = Annotated[
    Path | None,
    typer.Option(help="Deployment calibration profile YAML (from `infercost calibrate`)."),
]
hardware_app = typer.Typer(help="The hardware catalog.", no_args_is_help=True)
models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
app.add_typer(hardware_app, name="hardware")
app.add_typer(models_app, name="models")


@app.command("estimate")
def estimate_cmd(
    model: Annotated[
        str, typer.Argument(help="Catalog model id, or a config.json file/directory.")
    ],
    hardware: Annotated[str, typer.Option("--hardware", "-H", help="Catalog id or a spec YAML.")],
    chips: Annotated[int | None, typer.Option(help="Chips per replica (default tp×pp×dp).")] = None,
    tp: Annotated[int | None, typer.Option(help="Tensor-parallel degree.")] = None,
    pp: Annotated[int | None, typer.Option(help="Pipeline-parallel stages.")] = None,
    dp: Annotated[int | None, typer.Option(help="Attention data-parallel groups.")] = None,
    ep: Annotated[int | None, typer.Option(help="Expert-parallel degree (MoE).")] = None,
    weights: Annotated[
        str | None, typer.Option(help="Weight format (default: the checkpoint's own).")
    ] = None,
    kv: Annotated[str | None, typer.Option(help="KV-cache format (default: bf16).")] = None,
    batch: Annotated[int, typer.Option(help="Concurrent sequences decoding.")] = 1,
    isl: Annotated[int, typer.Option(help="Prompt (input) tokens per request.")] = 1024,
    osl: Annotated[int, typer.Option(help="Output tokens per request.")] = 256,
    price_per_hour: Annotated[
        float | None, typer.Option(help="USD per chip-hour (default: catalog price).")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="Engine profile: vllm, trtllm, …")] = None,
    calibration: CalibrationOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Time every prefill chunk and decode step, the memory plan, throughput and cost."""
    with user_errors():
        result = estimate(
            model,
            hardware,
            chips=chips,
            tp=tp,
            pp=pp,
            dp=dp,
            ep=ep,
            weights=weights,
            kv=kv,
            batch=batch,
            isl=isl,
            osl=osl,
            price_per_hour=price_per_hour,
            engine=engine,
            calibration=calibration,
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        console.print(terminal.estimate_view(result))


@hardware_app.command("list")
def hardware_list(as_json: JsonFlag = False) -> None:
    """Every chip in the catalog with its peaks, memory and links."""
    items = catalog.all_hardware()
    if as_json:
        print_json([h.model_dump(mode="json") for h in items])
    else:
        console.print(terminal.hardware_table(items))


@hardware_app.command("show")
def hardware_show(hardware_id: str, as_json: JsonFlag = False) -> None:
    """One chip with every field and its sources."""
    with user_errors():
        hw = catalog.hardware(hardware_id)
    data = hw.model_dump(mode="json")
    data["drain_time_ms"] = None if hw.drain_time_s is None else hw.drain_time_s * 1e3
    data["default_price"] = (p := catalog.default_price(hw.id)) and p.model_dump(mode="json")
    if as_json:
        print_json(data)
    else:
        console.print_json(json.dumps(data, default=str))


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """Every model in the catalog with parameter counts and KV bytes per token."""
    items = [catalog.model(i) for i in catalog.model_ids()]
    if as_json:
        print_json([_model_summary(m, "bf16") for m in items])
    else:
        console.print(terminal.models_table(items))


@models_app.command("show")
def models_show(
    model: str,
    kv: Annotated[str, typer.Option(help="KV-cache format for the byte counts.")] = "bf16",
    as_json: JsonFlag = False,
) -> None:
    """One model: architecture, layer groups, parameters, KV bytes per token per layer kind."""
    with user_errors():
        spec = catalog.model(model)
        data = _model_summary(spec, kv)
    data["layers"] = [g.model_dump(mode="json") for g in spec.layers]
    if as_json:
        print_json(data)
    else:
        console.print_json(json.dumps(data, default=str))


def _model_summary(spec: Any, kv: str) -> dict[str, Any]:
    kv_bytes = catalog.number_format(kv, "kv").bytes_per_element
    return {
        "id": spec.id,
        "architecture": spec.architecture,
        "layers": spec.num_layers,
        "total_params": spec.total_params,
        "active_params": spec.active_params,
        "native_weights": spec.native_weights,
        "kv_format": kv,
        "kv_bytes_per_token": spec.kv_bytes_per_token(kv_bytes),
        "kv_bytes_per_token_beyond_windows": spec.kv_bytes_per_token_beyond_windows(kv_bytes),
        "kv_bytes_by_layer_kind": spec.kv_bytes_by_kind(kv_bytes),
        "linear_flops_per_token": spec.linear_flops_per_token(),
        "max_context": spec.max_context,
        "approximate": spec.approximate,
        "source": spec.source,
    }


@app.command("validate")
def validate_cmd(
    file: Annotated[Path, typer.Argument(help="CSV in the schema of validation/README.md.")],
    out: Annotated[Path | None, typer.Option(help="Write per-row results to this CSV.")] = None,
    calibration: CalibrationOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Predict every row of a file of published measurements and score the predictions."""
    with user_errors():
        profile = efficiency_for(calibration)
        rows = read_rows(file)
        with progress_bar(len(rows), "predicting", quiet=as_json) as step:
            result = predict_rows(rows, profile, step)
    if out:
        write_rows_csv(result, out)
    summary = {**score_report(result), "efficiency_version": profile.version}
    if as_json:
        print_json(summary)
    else:
        console.print(terminal.validation_view(summary))
        if out:
            console.print(f"per-row results written to {out}")


@app.command("fit-efficiency")
def fit_efficiency_cmd(
    file: Annotated[
        Path, typer.Argument(help="CSV of measurements to fit the efficiency model on.")
    ],
    version: Annotated[str, typer.Option(help="Version string stored in the calibration.")],
    out: Annotated[Path, typer.Option(help="Where to write the calibration YAML.")] = Path(
        "efficiency.yaml"
    ),
    cross_validate: Annotated[
        bool, typer.Option(help="Also run leave-one-source-out (slow: one fit per source).")
    ] = True,
    held_out: Annotated[
        Path | None, typer.Option(help="Write each row's held-out error to this CSV.")
    ] = None,
) -> None:
    """Fit the efficiency model (robust least squares) and cross-validate it leave-one-source-out."""
    with user_errors(), console.status("calibrating") as status:
        result = calibrate(
            file,
            version=version,
            cross_validate=cross_validate,
            progress=lambda what: status.update(f"calibrating: {what}"),
        )
    profile = result.profile
    write_calibration(profile, out)
    if held_out:
        write_held_out_csv(result.held_out, held_out)
    console.print(f"calibration {version} written to {out}")
    for label, acc in (
        ("in-sample", profile.in_sample),
        ("leave-one-source-out", profile.cross_validated),
    ):
        if acc:
            console.print(
                f"{label}: MdAPE {acc.mdape_pct:.1f} %, within ±25 % {acc.within_25_pct:.1f} %, "
                f"{acc.covered}/{acc.rows} rows"
            )


for command_group in (
    simulate,
    ingest,
    frontier,
    price,
    bench,
    cost,
    compare,
    tco,
    plan,
    fleet,
    audit,
    calibrate_deployment,
    serve,
    report,
):
    command_group.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
