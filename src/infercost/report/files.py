"""Writing results to files: per-row validation CSV, the calibration YAML."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import yaml

from infercost.perf.efficiency import EfficiencyProfile
from infercost.validation.score import RowResult

ROW_COLUMNS = [
    "id",
    "predicted",
    "measured",
    "error_pct",
    "covered",
    "reason",
    "interval_low",
    "interval_high",
    "outside_domain",
]

CALIBRATION_HEADER = """\
# Efficiency model: the achievable fraction of hardware peaks, fixed costs per step, queueing factors.
# Written by `infercost fit-efficiency`; see docs/model.md for each field. `version` changes with every fit.
# `families` override `default` per hardware family; `engines` multiply the fractions and overheads;
# `intervals` are 80 % prediction-interval multipliers from leave-one-source-out residuals.
"""


def write_rows_csv(rows: list[RowResult], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ROW_COLUMNS)
        for r in rows:
            writer.writerow(
                [
                    r.id,
                    r.predicted,
                    r.measured,
                    r.error_pct,
                    r.covered,
                    r.reason,
                    r.interval_low,
                    r.interval_high,
                    r.outside_domain,
                ]
            )


def write_held_out_csv(log_errors: dict[str, float], path: Path) -> None:
    """Leave-one-source-out result per row: the error of a fit that never saw the row's source."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "held_out_error_pct"])
        for row_id, err in sorted(log_errors.items()):
            writer.writerow([row_id, math.expm1(err) * 100.0])


def write_calibration(profile: EfficiencyProfile, path: Path) -> None:
    data = profile.model_dump(mode="json")
    path.write_text(CALIBRATION_HEADER + yaml.safe_dump(data, sort_keys=False, width=100))
