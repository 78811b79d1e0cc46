"""Measure the twin engine on real recordings and print Markdown tables.

Usage:
    python scripts/evaluate_twin_engine.py [--bidmc-dir DIR] [--mimic-record PATH]

- beat detection on MIT-BIH record 100 (``tests/data/mitdb``);
- the asystole check on Challenge 2015 record a103l (``tests/data/challenge2015``);
- artefacts and sustained changes on BIDMC numerics (the 12 bundled records,
  or every ``bidmc_NN_Numerics.csv`` in ``--bidmc-dir``);
- sensitivity to dropouts, spikes and step changes injected at known times
  into the same BIDMC records;
- artefacts and changes on one MIMIC-II numerics CSV (``--mimic-record``),
  read where it lies; no copy of it belongs in this repository because its
  licence for redistribution is unconfirmed;
- the 60 s forecast backtest against persistence on the same BIDMC records.
"""

import argparse
import collections
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import wfdb  # noqa: E402

from scripts.common import cpu_model  # noqa: E402
from twins import anomaly, ecg, forecast  # noqa: E402
from twins.numerics import BIDMC_DIR, bidmc_paths, read_bidmc  # noqa: E402
from twins.vitals import PARAMETERS  # noqa: E402

MITDB_100 = ROOT / "tests" / "data" / "mitdb" / "100"
A103L = ROOT / "tests" / "data" / "challenge2015" / "a103l"
MIMIC_COLUMNS = {
    "HR [bpm]": "heart_rate",
    "PULSE [bpm]": "pulse_rate",
    "RESP [pm]": "resp_rate",
    "SpO2 [%]": "spo2",
}
EXAMPLES_PER_KIND = 3


def report_beats() -> None:
    score = ecg.evaluate_beat_detection(str(MITDB_100))
    print("## Beat detection, MIT-BIH record 100 (lead MLII)\n")
    print("| reference beats | TP | FP | FN | Se | PPV |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {score.reference_beats} | {score.true_positives} | "
        f"{score.false_positives} | {score.false_negatives} | "
        f"{score.sensitivity:.2%} | {score.positive_predictivity:.2%} |\n"
    )


def report_asystole() -> None:
    record = wfdb.rdrecord(str(A103L))
    fs, signals = record.fs, record.p_signal
    print("## Asystole check, Challenge 2015 record a103l (false alarm at 300 s)\n")
    print("Sliding 16 s windows, one per second, over the whole record.\n")
    print("| inputs | windows | windows raising asystole | longest pause (s) |")
    print("| --- | --- | --- | --- |")
    for label, leads, pleth in (
        ("ECG II + ECG V + PLETH", [0, 1], 2),
        ("ECG II + ECG V", [0, 1], None),
        ("ECG V alone", [1], None),
    ):
        results = ecg.scan_asystole(signals, fs, leads, pleth)
        fired = [end for end, result in results if result.asystole]
        longest = max(result.longest_pause_seconds for _, result in results)
        span = f" ({fired[0]:.0f}-{fired[-1]:.0f} s)" if fired else ""
        print(f"| {label} | {len(results)} | {len(fired)}{span} | {longest:.2f} |")
    flat = signals.copy()
    flat[296 * fs : 306 * fs] = 0.0
    window = flat[290 * fs : 306 * fs]
    result = ecg.check_asystole(window[:, :2], window[:, 2], fs)
    print(
        f"\nCopy with both ECG leads and PLETH set to 0 from 296 s to 306 s, "
        f"window 290-306 s: asystole={result.asystole}, longest pause "
        f"{result.longest_pause_seconds:.2f} s.\n"
    )


def _summarise_events(frames: list[pd.DataFrame], period: float) -> None:
    counts = collections.Counter()
    records = collections.defaultdict(set)
    examples = collections.defaultdict(list)
    for frame in frames:
        for event in anomaly.detect_anomalies(frame, period):
            key = (event.kind, event.parameter)
            counts[key] += 1
            records[key].add(frame.attrs.get("record", "?"))
            if len(examples[event.kind]) < EXAMPLES_PER_KIND:
                examples[event.kind].append((frame.attrs.get("record", "?"), event))
    print("| kind | parameter | events | records with one |")
    print("| --- | --- | --- | --- |")
    for (kind, parameter), count in sorted(counts.items()):
        print(f"| {kind} | {parameter} | {count} | {len(records[(kind, parameter)])} |")
    print("\nExamples:\n")
    for kind, rows in sorted(examples.items()):
        for record, event in rows:
            print(
                f"- {kind}, {record}, {event.parameter}, "
                f"{event.start_seconds:.0f}-{event.end_seconds:.0f} s: {event.detail}"
            )
    print()


def read_mimic_csv(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path)
    frame = raw[list(MIMIC_COLUMNS)].rename(columns=MIMIC_COLUMNS).astype(float)
    frame.index = (raw["elapsed_min"] * 60).astype(float).to_numpy()
    frame.attrs["record"] = path.stem
    return frame


def report_anomalies(frames: list[pd.DataFrame], mimic: Path | None) -> None:
    print(f"## Anomaly detection, BIDMC numerics ({len(frames)} records, 1 Hz)\n")
    print("No reference annotations exist for these events: counts only.\n")
    _summarise_events(frames, 1.0)
    if mimic is not None:
        print(f"## Anomaly detection, MIMIC-II {mimic.stem} (1 sample per minute)\n")
        _summarise_events([read_mimic_csv(mimic)], 60.0)


# Injected events: each record and parameter gets one of each kind, at a
# seeded random second, on a copy of the real series.
INJECTION_SEED = 0
INJECTED_DROPOUT_SECONDS = 10
INJECTED_STEP_SECONDS = 120
STEP_BASELINE_SECONDS = 200
PULSE_PAIR = ("heart_rate", "pulse_rate")


def _inject(
    values: np.ndarray, kind: str, limits, plausible_high: float, rng
) -> tuple[np.ndarray, int, int]:
    """Return a copy of ``values`` with one event, and its first and last index."""
    values = values.copy()
    n = len(values)
    if kind == "dropout":
        start = int(rng.integers(30, n - 30 - INJECTED_DROPOUT_SECONDS))
        end = start + INJECTED_DROPOUT_SECONDS - 1
        values[start : end + 1] = 0.0
    elif kind == "spike":
        start = end = int(rng.integers(30, n - 30))
        median = np.nanmedian(values[start - 7 : start + 8])
        jump = 2 * limits.min_jump
        # Go down where going up would leave the plausible range (SpO2): the
        # detector reports such a value as implausible, not as a spike.
        values[start] = median + (jump if median + jump <= plausible_high else -jump)
    else:
        start = int(rng.integers(STEP_BASELINE_SECONDS, n - INJECTED_STEP_SECONDS))
        end = n - 1
        step = 2 * limits.min_change
        if np.nanmedian(values) + step > plausible_high:
            step = -step
        values[start:] += step
    return values, start, end


def report_injected(frames: list[pd.DataFrame]) -> None:
    """Measure sensitivity on events injected at known times into real series."""
    rng = np.random.default_rng(INJECTION_SEED)
    found = collections.Counter()
    injected = collections.Counter()
    delays = []
    for frame in frames:
        for parameter, limits in anomaly.LIMITS.items():
            series = frame[parameter].to_numpy(dtype=float)
            if np.isnan(series).mean() > 0.5 or len(series) < 400:
                continue
            for kind in ("dropout", "spike", "change"):
                high = PARAMETERS[parameter].plausible[1]
                values, start, end = _inject(series, kind, limits, high, rng)
                copy = frame.copy()
                copy[parameter] = values
                if kind == "change" and parameter in PULSE_PAIR:
                    # A real change of heart rate moves the pleth pulse rate
                    # too; a step in one alone is a disagreement artefact.
                    other = next(name for name in PULSE_PAIR if name != parameter)
                    copy[other] = frame[other] + (values - series)
                events = [
                    event
                    for event in anomaly.detect_anomalies(copy)
                    if event.kind == kind
                    and event.parameter == parameter
                    and event.start_seconds <= copy.index[end]
                    and event.end_seconds >= copy.index[start]
                ]
                injected[kind] += 1
                if events:
                    found[kind] += 1
                    if kind == "change":
                        confirmed = events[0].start_seconds + anomaly.MIN_CHANGE_SECONDS
                        delays.append(confirmed - copy.index[start])
    print(f"## Anomaly detection on injected events ({len(frames)} BIDMC records)\n")
    print(
        f"One event of each kind per record and parameter, at a random second "
        f"(seed {INJECTION_SEED}): a {INJECTED_DROPOUT_SECONDS} s dropout to 0, a "
        "one-sample spike of twice the parameter's minimum jump off the local "
        "median, and a step of twice its minimum change that lasts to the end. "
        "Spikes and steps go down where going up would leave the plausible "
        "range (SpO2), and heart rate and pulse rate step together. "
        "Detected means an event of the same kind on the same parameter overlaps "
        "the injected span.\n"
    )
    print("| kind | injected | detected | sensitivity |")
    print("| --- | --- | --- | --- |")
    for kind in ("dropout", "spike", "change"):
        share = found[kind] / injected[kind] if injected[kind] else float("nan")
        print(f"| {kind} | {injected[kind]} | {found[kind]} | {share:.1%} |")
    if delays:
        print(
            f"\nStep onset to confirmed change: median {np.median(delays):.0f} s, "
            f"max {np.max(delays):.0f} s.\n"
        )


def report_forecast(frames: list[pd.DataFrame]) -> None:
    print(
        f"## Forecast backtest, {forecast.HORIZON_SECONDS} s ahead "
        f"({len(frames)} BIDMC records)\n"
    )
    print(
        f"Refit on the {forecast.FIT_WINDOW_SECONDS} s before each origin, origins "
        f"every {forecast.BACKTEST_STEP_SECONDS} s; nominal interval coverage "
        f"{forecast.NOMINAL_COVERAGE:.0%}.\n"
    )
    print(
        "| parameter | forecasts | MAE model | MAE persistence | ratio "
        "| coverage | shown |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for result in forecast.backtest_records(frames).values():
        print(
            f"| {result.parameter} | {result.forecasts} | {result.mae_model:.3f} | "
            f"{result.mae_persistence:.3f} | {result.mae_ratio:.3f} | "
            f"{result.coverage:.1%} | {'yes' if result.shown else 'no'} |"
        )
    print()


def report_machine() -> None:
    print(
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, wfdb {wfdb.__version__}.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bidmc-dir",
        type=Path,
        default=BIDMC_DIR,
        help="folder of BIDMC bidmc_NN_Numerics.csv files",
    )
    parser.add_argument(
        "--mimic-record",
        type=Path,
        help="a MIMIC-II numerics CSV (elapsed_min, 'HR [bpm]', ...), read in place",
    )
    args = parser.parse_args()

    frames = [read_bidmc(path) for path in bidmc_paths(args.bidmc_dir)]
    if not frames:
        parser.error(f"no bidmc_NN_Numerics.csv files in {args.bidmc_dir}")
    report_machine()
    report_beats()
    report_asystole()
    report_anomalies(frames, args.mimic_record)
    report_injected(frames)
    report_forecast(frames)


if __name__ == "__main__":
    main()
