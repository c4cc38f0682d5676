"""`make demo`: the headline analysis on shipped data — Llama-3.1-70B on H100, one point in detail and
the latency–cost trade-off over batch size — written to `reports/demo/`."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from infercost.estimation import Estimate, estimate
from infercost.report import terminal

MODEL, HARDWARE, CHIPS = "llama-3.1-70b", "h100-sxm", 4
ISL, OSL = 2048, 512
BATCHES = (1, 4, 16, 64, 128)


def sweep() -> list[Estimate]:
    return [estimate(MODEL, HARDWARE, chips=CHIPS, batch=b, isl=ISL, osl=OSL) for b in BATCHES]


def sweep_table(points: list[Estimate]) -> Table:
    table = Table(title=f"Latency vs cost over batch size ({CHIPS} × {HARDWARE}, bf16)")
    for col in ("batch", "TPOT ms", "tok/s per user", "output tok/s per chip", "$ / 1M output"):
        table.add_column(col, justify="right")
    for e in points:
        table.add_row(
            str(e.batch),
            f"{e.tpot_ms:,.2f}",
            f"{e.tokens_per_s_per_user:,.1f}",
            f"{e.output_tps_per_chip:,.0f}",
            f"${e.usd_per_mtok_output:,.3f}" if e.usd_per_mtok_output is not None else "n/a",
        )
    return table


def main(out_dir: Path = Path("reports/demo")) -> Path:
    console = Console()
    detail = estimate(MODEL, HARDWARE, chips=CHIPS, batch=64, isl=ISL, osl=OSL)
    console.print(terminal.estimate_view(detail))
    points = sweep()
    console.print(sweep_table(points))
    single, busiest = points[0], points[-1]
    if single.usd_per_mtok_output and busiest.usd_per_mtok_output:
        ratio = single.usd_per_mtok_output / busiest.usd_per_mtok_output
        console.print(
            f"Serving one user at a time costs {ratio:,.0f}× more per output token than batch "
            f"{busiest.batch}, for {single.tokens_per_s_per_user / busiest.tokens_per_s_per_user:,.1f}× "
            "the speed per user."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / "estimate.json"
    report.write_text(
        json.dumps(
            {
                "detail": detail.model_dump(mode="json"),
                "sweep": [p.model_dump(mode="json") for p in points],
            },
            indent=2,
        )
    )
    console.print(f"\nReport written to [bold]{report.resolve()}[/]")
    return report


if __name__ == "__main__":
    main()
