"""Benchmark the placement solvers on ICU wards and on OR-Library GAP instances.

Runs, in one process and in this order:

1. small wards (4, 8 and 12 patients, three profiles, 10 seeds): every solver
   against the optimum that the exact solver proves;
2. large wards (50, 100 and 200 patients, three profiles, 2 seeds): every
   solver against the exact solver's best proven bound after its time limit;
3. GAP: the exact solver on all gap1 to gap12 instances in both senses and on
   the type A to D instances, greedy on all of them, the hybrid on types C
   and D, each against the known values in ``tests/data/gap/known.csv``.

Greedy is the baseline of each run: the report gives every solver's wall
time and objective as ratios to the greedy ones measured in the same run.
It prints Markdown tables for ``docs/benchmarks.md`` and writes every row as
JSON. Usage: ``python scripts/bench_scheduler.py [--quick] [--out DIR]``;
``--quick`` runs a reduced grid in about a minute to check the script.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduler import cli  # noqa: E402
from scripts.common import machine  # noqa: E402

GAP_DATA = ROOT / "tests" / "data" / "gap"
SMALL_GAP_FILES = [f"gap{k}.txt" for k in range(1, 13)]
TYPED_GAP_FILES = ["gapa.txt", "gapb.txt", "gapc.txt", "gapd.txt"]


def run_wards(patients, seeds, time_limit_s, label):
    options = cli.parse_compare_options(
        [str(n) for n in patients],
        ["latency", "security", "balanced"],
        str(seeds),
        time_limit=time_limit_s,
    )
    print(f"## {label}", file=sys.stderr)
    return cli.compare_solvers(
        options, progress=lambda line: print(line, file=sys.stderr)
    )


def run_gap(files, solver, sense, time_limit_s):
    options = cli.parse_gap_options(
        [str(GAP_DATA / name) for name in files],
        solver=solver,
        sense=sense,
        time_limit=time_limit_s,
        known=str(GAP_DATA / "known.csv"),
    )
    print(f"## GAP {solver} {sense} {', '.join(files)}", file=sys.stderr)
    return cli.solve_gap_files(
        options, progress=lambda line: print(line, file=sys.stderr)
    )


def ward_table(rows: list[dict]) -> str:
    """Tabulate medians per ward size and solver, with ratios to greedy."""
    greedy = {
        (row["patients"], row["profile"], row["seed"]): row
        for row in rows
        if row["solver"] == "greedy"
    }
    lines = [
        "| patients | solver | runs | proven optimal | gap % median | gap % worst "
        "| gap to | wall s median | wall s worst | wall / greedy (median) "
        "| objective / greedy (median) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for patients in sorted({row["patients"] for row in rows}):
        for solver in ("exact", "greedy", "hybrid"):
            group = [
                row
                for row in rows
                if row["patients"] == patients and row["solver"] == solver
            ]
            if not group:
                continue
            gaps = [row["gap_pct"] for row in group if row["gap_pct"] is not None]
            walls = [row["wall_s"] for row in group]
            base = [
                greedy[row["patients"], row["profile"], row["seed"]] for row in group
            ]
            wall_ratio = [
                row["wall_s"] / max(b["wall_s"], 1e-9)
                for row, b in zip(group, base, strict=True)
            ]
            value_ratio = [
                row["objective"] / b["objective"]
                for row, b in zip(group, base, strict=True)
                if row["objective"] is not None and b["objective"]
            ]
            cells = [
                str(patients),
                solver,
                str(len(group)),
                str(sum(row["status"] == "optimal" for row in group)),
                _fmt(_median(gaps), ".3f"),
                _fmt(max(gaps, default=None), ".3f"),
                cli.gap_reference_label(group),
                _fmt(statistics.median(walls), ".4f"),
                _fmt(max(walls), ".4f"),
                _fmt(_median(wall_ratio), ".1f"),
                _fmt(_median(value_ratio), ".4f"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gap_summary(rows: list[dict], label: str) -> str:
    """Summarise each family and solver: known values hit, gaps and times."""
    families: dict[tuple, list[dict]] = {}
    for row in rows:
        family = (
            row["instance"].split("-")[0]
            if "-" in row["instance"]
            else row["instance"][0]
        )
        families.setdefault((family, row["sense"], row["solver"]), []).append(row)
    lines = [
        f"{label}",
        "",
        "| family | sense | solver | instances | equal to known | proven optimal "
        "| gap % median | gap % worst | wall s median | wall s worst |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (family, sense, solver), group in families.items():
        gaps = [row["gap_pct"] for row in group if row["gap_pct"] is not None]
        walls = [row["wall_s"] for row in group]
        equal = sum(
            row["value"] is not None
            and row["known"] is not None
            and row["value"] == row["known"]
            for row in group
        )
        cells = [
            family,
            sense,
            solver,
            str(len(group)),
            str(equal),
            str(sum(row["status"] == "optimal" for row in group)),
            _fmt(_median(gaps), ".3f"),
            _fmt(max(gaps, default=None), ".3f"),
            _fmt(statistics.median(walls), ".3f"),
            _fmt(max(walls), ".3f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gap_instances(rows: list[dict]) -> str:
    lines = [
        "| instance | solver | value | known | gap % | status | wall s |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['instance']} | {row['solver']} | {_fmt(row['value'], 'g')} "
            f"| {_fmt(row['known'], 'g')} | {_fmt(row['gap_pct'], '.3f')} "
            f"| {row['status']} | {row['wall_s']:.2f} |"
        )
    return "\n".join(lines)


def _median(values):
    return statistics.median(values) if values else None


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="run a reduced grid in about a minute"
    )
    parser.add_argument(
        "--out", default=str(ROOT / "var" / "bench"), help="folder for the JSON rows"
    )
    arguments = parser.parse_args()
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)

    quick = arguments.quick
    started = time.perf_counter()
    info = machine("PuLP", "highspy")
    results = {"machine": info}

    results["small_wards"] = run_wards(
        (4, 8, 12), 2 if quick else 10, 10.0, "small wards"
    )
    results["large_wards"] = run_wards(
        (50,) if quick else (50, 100, 200), 1 if quick else 2, 10.0, "large wards"
    )
    gap_rows = []
    small_files = SMALL_GAP_FILES[:2] if quick else SMALL_GAP_FILES
    for sense in ("min", "max"):
        gap_rows += run_gap(small_files, "exact", sense, 30.0)
        gap_rows += run_gap(small_files, "greedy", sense, 30.0)
    typed = TYPED_GAP_FILES[:1] if quick else TYPED_GAP_FILES
    typed_rows = run_gap(typed, "exact", "min", 10.0 if quick else 60.0)
    typed_rows += run_gap(typed, "greedy", "min", 60.0)
    hybrid_files = ["gapa.txt"] if quick else ["gapc.txt", "gapd.txt"]
    typed_rows += run_gap(hybrid_files, "hybrid", "min", 10.0 if quick else 60.0)
    results["gap_small"] = gap_rows
    results["gap_typed"] = typed_rows
    info["load_average_end"] = os.getloadavg()
    info["total_wall_s"] = time.perf_counter() - started

    (out / "bench_scheduler.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"# Machine\n\n```\n{json.dumps(info, indent=1)}\n```\n")
    print("# Small wards\n\n" + ward_table(results["small_wards"]) + "\n")
    print("# Large wards\n\n" + ward_table(results["large_wards"]) + "\n")
    print(gap_summary(gap_rows, "# GAP gap1 to gap12") + "\n")
    print(gap_summary(typed_rows, "# GAP types A to D") + "\n")
    print("# GAP types A to D per instance\n\n" + gap_instances(typed_rows))


if __name__ == "__main__":
    main()
