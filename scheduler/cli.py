"""Logic of the ``compare_solvers`` and ``solve_gap`` commands, free of Django.

``compare_solvers`` runs every solver on seeded ICU wards and measures each
result against the exact solver. The gap is to the proven optimum when the
exact run proved one. Otherwise it is to the best proven bound, as on the
larger wards where the exact solver stops at its time limit.

``solve_gap`` runs one solver on GAP files and measures each value against a
known optimum or best-known value read from a CSV file.

Options arrive as strings (or lists of them) from the command line and are
checked here. A bad value raises ``UsageError`` naming the option, the value
and what is allowed.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from scheduler.core import PROFILES, SOLVERS, Result, Status, read_gap_file, solve
from scheduler.core.exact import BACKENDS
from scheduler.core.gap import SENSES
from scheduler.core.scenario import icu_scenario

COMPARE_KEYS = (
    "patients",
    "profile",
    "seed",
    "solver",
    "objective",
    "gap_pct",
    "gap_to",
    "wall_s",
    "feasible",
    "status",
)
GAP_KEYS = (
    "instance",
    "sense",
    "solver",
    "value",
    "known",
    "gap_pct",
    "wall_s",
    "status",
    "feasible",
)
# Upper limits that stop a mistyped option (an extra zero) from starting a
# run of hours: a 200-patient ward already takes the exact solver past 10 s.
MAX_PATIENTS = 1000
MAX_SEEDS = 1000
DEFAULT_TIME_LIMIT_S = 10.0


class UsageError(ValueError):
    """A command-line option with an invalid value."""


def _invalid(option: str, value, allowed: str) -> UsageError:
    return UsageError(f"{option}={value!r} is invalid: expected {allowed}")


def parse_int(option: str, value: str, minimum: int, maximum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not minimum <= number <= maximum:
        raise _invalid(option, value, f"an integer from {minimum} to {maximum}")
    return number


def parse_time_limit(value: str | float | None) -> float:
    if value is None:
        return DEFAULT_TIME_LIMIT_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise _invalid("--time-limit", value, "a number of seconds > 0")
    return seconds


def parse_choices(option: str, values: Iterable[str], allowed: Sequence[str]):
    chosen = []
    for value in values:
        if value not in allowed:
            raise _invalid(option, value, f"one of {', '.join(allowed)}")
        if value not in chosen:
            chosen.append(value)
    if not chosen:
        raise _invalid(option, [], f"at least one of {', '.join(allowed)}")
    return tuple(chosen)


def parse_choice(option: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise _invalid(option, value, f"one of {', '.join(allowed)}")
    return value


def parse_output_path(option: str, value: str | None) -> Path | None:
    """Check that a JSON output path can be written, before any solving."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        raise _invalid(option, value, "a file path, not a folder")
    if not path.parent.is_dir():
        raise _invalid(option, value, "a path in an existing folder")
    return path


def write_json(rows: list[dict], path: Path) -> None:
    """Write ``rows`` as a JSON list, replacing the file only once complete."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(rows, indent=1) + "\n")
    partial.replace(path)


def gap_pct(value: float | None, reference: float | None, sense: str = "min"):
    """Return how far ``value`` is from ``reference`` in percent, worse > 0."""
    if value is None or reference is None:
        return None
    worse_by = value - reference if sense == "min" else reference - value
    if abs(worse_by) <= 1e-9 * max(1.0, abs(reference)):
        return 0.0
    return 100 * worse_by / max(abs(reference), 1e-12)


# compare_solvers -------------------------------------------------------------


@dataclass(frozen=True)
class CompareOptions:
    patients: tuple[int, ...]
    profiles: tuple[str, ...]
    seeds: int
    solvers: tuple[str, ...]
    time_limit_s: float
    backend: str
    json_path: Path | None


def parse_compare_options(
    patients: Sequence[str],
    profiles: Sequence[str],
    seeds: str,
    solvers: Sequence[str] = SOLVERS,
    time_limit: str | float | None = None,
    backend: str = "auto",
    json_path: str | None = None,
) -> CompareOptions:
    """Check the options of ``compare_solvers``; raise UsageError if invalid."""
    sizes = tuple(
        dict.fromkeys(parse_int("--patients", n, 1, MAX_PATIENTS) for n in patients)
    )
    if not sizes:
        raise _invalid(
            "--patients", [], f"at least one integer from 1 to {MAX_PATIENTS}"
        )
    return CompareOptions(
        patients=sizes,
        profiles=parse_choices("--profiles", profiles, tuple(PROFILES)),
        seeds=parse_int("--seeds", seeds, 1, MAX_SEEDS),
        solvers=parse_choices("--solvers", solvers, SOLVERS),
        time_limit_s=parse_time_limit(time_limit),
        backend=parse_choice("--backend", backend, BACKENDS),
        json_path=parse_output_path("--json", json_path),
    )


def compare_solvers(
    options: CompareOptions, progress: Callable[[str], None] | None = None
) -> list[dict]:
    """Solve every ward of the grid with every solver and return one row each.

    The wards are ``icu_scenario(patients, seed, profile)`` for seeds 0 to
    ``seeds - 1``. The exact solver runs first so that the others can be
    measured against its optimum or bound. Without it, ``gap_pct`` is None.
    """
    rows = []
    for patients in options.patients:
        for profile in options.profiles:
            for seed in range(options.seeds):
                problem = icu_scenario(patients, seed, profile)
                results = _solve_all(problem, options, seed)
                reference, gap_to = _reference(results.get("exact"))
                for solver in options.solvers:
                    result = results[solver]
                    rows.append(
                        {
                            "patients": patients,
                            "profile": profile,
                            "seed": seed,
                            "solver": solver,
                            "objective": result.objective,
                            "gap_pct": gap_pct(result.objective, reference),
                            "gap_to": gap_to,
                            "wall_s": result.wall_s,
                            "feasible": result.feasible,
                            "status": result.status.value,
                        }
                    )
                if progress is not None:
                    progress(_progress_line(rows[-len(options.solvers) :]))
    return rows


def _solve_all(problem, options: CompareOptions, seed: int) -> dict[str, Result]:
    ordered = sorted(options.solvers, key=lambda solver: solver != "exact")
    results = {}
    for solver in ordered:
        extra = {"backend": options.backend} if solver == "exact" else {}
        results[solver] = solve(
            problem, solver, time_limit_s=options.time_limit_s, seed=seed, **extra
        )
    return results


def _reference(exact: Result | None) -> tuple[float | None, str | None]:
    if exact is None:
        return None, None
    if exact.status is Status.OPTIMAL:
        return exact.objective, "optimum"
    if exact.bound is not None:
        return exact.bound, "bound"
    return None, None


def _progress_line(rows: list[dict]) -> str:
    first = rows[0]
    parts = [
        f"{row['solver']} {row['status']} {_number(row['gap_pct'], '.3f')} %"
        for row in rows
    ]
    return (
        f"patients {first['patients']} {first['profile']} seed {first['seed']}: "
        + ", ".join(parts)
    )


def summarise_compare(rows: list[dict]) -> list[dict]:
    """Group rows by ward size, profile and solver: medians and worst cases."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["patients"], row["profile"], row["solver"]), []).append(
            row
        )
    summary = []
    for (patients, profile, solver), members in groups.items():
        gaps = [row["gap_pct"] for row in members if row["gap_pct"] is not None]
        summary.append(
            {
                "patients": patients,
                "profile": profile,
                "solver": solver,
                "runs": len(members),
                "feasible": sum(row["feasible"] for row in members),
                "optimal": sum(row["status"] == "optimal" for row in members),
                "median_gap_pct": statistics.median(gaps) if gaps else None,
                "max_gap_pct": max(gaps) if gaps else None,
                "gap_to": gap_reference_label(members),
                "median_wall_s": statistics.median(row["wall_s"] for row in members),
                "max_wall_s": max(row["wall_s"] for row in members),
            }
        )
    return summary


def gap_reference_label(rows: list[dict]) -> str:
    """Return what the gaps of ``rows`` are measured to: optimum, bound or both."""
    kinds = sorted({row["gap_to"] for row in rows if row["gap_to"] is not None})
    return "/".join(kinds) or "-"


def format_compare_table(rows: list[dict]) -> str:
    """Return the summary of ``rows`` as a fixed-width text table."""
    header = (
        "patients",
        "profile",
        "solver",
        "runs",
        "feasible",
        "optimal",
        "gap % med",
        "gap % max",
        "gap to",
        "wall s med",
        "wall s max",
    )
    lines = [
        (
            str(item["patients"]),
            item["profile"],
            item["solver"],
            str(item["runs"]),
            str(item["feasible"]),
            str(item["optimal"]),
            _number(item["median_gap_pct"], ".3f"),
            _number(item["max_gap_pct"], ".3f"),
            item["gap_to"],
            _number(item["median_wall_s"], ".4f"),
            _number(item["max_wall_s"], ".4f"),
        )
        for item in summarise_compare(rows)
    ]
    return _table(header, lines)


# solve_gap -------------------------------------------------------------------


@dataclass(frozen=True)
class GapOptions:
    files: tuple[Path, ...]
    solver: str
    sense: str
    time_limit_s: float
    seed: int
    backend: str
    known: dict[tuple[str, str], float]
    json_path: Path | None


def parse_gap_options(
    files: Sequence[str],
    solver: str = "exact",
    sense: str = "min",
    time_limit: str | float | None = None,
    seed: str = "0",
    backend: str = "auto",
    known: str | None = None,
    json_path: str | None = None,
) -> GapOptions:
    """Check the options of ``solve_gap``; raise UsageError if invalid."""
    if not files:
        raise _invalid("FILE", [], "at least one GAP file")
    paths = []
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise _invalid("FILE", name, "an existing GAP file")
        paths.append(path)
    return GapOptions(
        files=tuple(paths),
        solver=parse_choice("--solver", solver, SOLVERS),
        sense=parse_choice("--sense", sense, SENSES),
        time_limit_s=parse_time_limit(time_limit),
        seed=parse_int("--seed", seed, 0, 2**31 - 1),
        backend=parse_choice("--backend", backend, BACKENDS),
        known=read_known_csv(known) if known is not None else {},
        json_path=parse_output_path("--json", json_path),
    )


def read_known_csv(name: str) -> dict[tuple[str, str], float]:
    """Read known values: a CSV file with the columns instance, sense, value."""
    path = Path(name)
    if not path.is_file():
        raise _invalid("--known", name, "an existing CSV file")
    known = {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"instance", "sense", "value"} - set(reader.fieldnames or ())
        if missing:
            raise UsageError(
                f"--known={name!r} is invalid: its header lacks "
                f"{', '.join(sorted(missing))}; expected the columns "
                "instance, sense, value"
            )
        for row in reader:
            place = f"--known={name!r} line {reader.line_num}"
            if row["sense"] not in SENSES:
                raise UsageError(
                    f"{place}: sense={row['sense']!r} is invalid: expected min or max"
                )
            try:
                value = float(row["value"])
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                raise UsageError(
                    f"{place}: value={row['value']!r} is invalid: expected a number"
                )
            known[row["instance"], row["sense"]] = value
    return known


def solve_gap_files(
    options: GapOptions, progress: Callable[[str], None] | None = None
) -> list[dict]:
    """Solve every instance of every file and return one row each."""
    rows = []
    extra = {"backend": options.backend} if options.solver == "exact" else {}
    for path in options.files:
        try:
            instances = read_gap_file(path, sense=options.sense)
        except ValueError as error:
            raise UsageError(f"FILE={str(path)!r} is invalid: {error}") from None
        for instance in instances:
            result = solve(
                instance,
                options.solver,
                time_limit_s=options.time_limit_s,
                seed=options.seed,
                **extra,
            )
            known = options.known.get((instance.name, options.sense))
            row = {
                "instance": instance.name,
                "sense": options.sense,
                "solver": options.solver,
                "value": result.objective,
                "known": known,
                "gap_pct": gap_pct(result.objective, known, options.sense),
                "wall_s": result.wall_s,
                "status": result.status.value,
                "feasible": result.feasible,
            }
            rows.append(row)
            if progress is not None:
                progress(
                    f"{instance.name}: {row['status']} value {row['value']} "
                    f"known {row['known']} in {row['wall_s']:.2f} s"
                )
    return rows


def format_gap_table(rows: list[dict]) -> str:
    header = GAP_KEYS
    lines = [
        (
            row["instance"],
            row["sense"],
            row["solver"],
            _number(row["value"], "g"),
            _number(row["known"], "g"),
            _number(row["gap_pct"], ".3f"),
            _number(row["wall_s"], ".3f"),
            row["status"],
            "yes" if row["feasible"] else "no",
        )
        for row in rows
    ]
    return _table(header, lines)


# Shared formatting -----------------------------------------------------------


def _number(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _table(header: Sequence[str], lines: list[Sequence[str]]) -> str:
    widths = [
        max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)
    ]
    rendered = [
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in (header, *lines)
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(rendered)
