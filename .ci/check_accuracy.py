"""Fail CI when `infercost validate` on the shipped validation file regresses past the recorded figures.

Usage: python .ci/check_accuracy.py SUMMARY.json BASELINE.json
"""

from __future__ import annotations

import json
import sys

TOLERANCE_PCT = 0.5  # floating-point and platform noise, in percentage points


def main(summary_path: str, baseline_path: str) -> int:
    summary = json.load(open(summary_path))
    baseline = json.load(open(baseline_path))
    problems = []
    if summary["covered"] < baseline["covered"]:
        problems.append(f"coverage fell: {summary['covered']} < {baseline['covered']} rows")
    if summary["mdape_pct"] > baseline["mdape_pct"] + TOLERANCE_PCT:
        problems.append(f"MdAPE rose: {summary['mdape_pct']:.2f} % > {baseline['mdape_pct']:.2f} %")
    if summary["within_25_pct"] < baseline["within_25_pct"] - TOLERANCE_PCT:
        problems.append(
            f"within ±25 % fell: {summary['within_25_pct']:.1f} % < {baseline['within_25_pct']:.1f} %"
        )
    print(
        f"accuracy: {summary['covered']}/{summary['rows']} rows, MdAPE {summary['mdape_pct']:.2f} %, "
        f"within ±25 % {summary['within_25_pct']:.1f} % (baseline MdAPE {baseline['mdape_pct']:.2f} %)"
    )
    for p in problems:
        print(f"REGRESSION: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
