"""Time each twin task on real recordings and write twins/task_costs.json.

Usage: python scripts/measure_task_costs.py [--runs 200]

Each task runs ``--runs`` times on the same input after one warm-up run; the
median wall-clock time per run is stored with the machine it ran on.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import wfdb  # noqa: E402

from scripts.common import cpu_model, memory_gib  # noqa: E402
from twins import ecg, forecast, news2  # noqa: E402
from twins.numerics import BIDMC_DIR, read_bidmc  # noqa: E402
from twins.task_costs import COSTS_PATH, TASKS, assumed_mips  # noqa: E402

ECG_RECORD = ROOT / "tests" / "data" / "mitdb" / "100"
CHUNK_SECONDS = 10
CHUNK_START_SECONDS = 60

DESCRIPTIONS = {
    "ecg_sync": "resample a 10 s 2-lead 360 Hz ECG chunk to the 250 Hz grid, int16",
    "anomaly_detection": "XQRS R-peak detection on a 10 s ECG lead + rhythm metrics",
    "risk_inference": "NEWS2 score + 60 s forecast of 4 vitals from a 240 s window",
    "model_update": "refit the forecast model of 4 vitals on the last 240 s",
}


def _workloads() -> dict:
    record = wfdb.rdrecord(str(ECG_RECORD))
    start = CHUNK_START_SECONDS * record.fs
    chunk = record.p_signal[start : start + CHUNK_SECONDS * record.fs]
    window = read_bidmc(BIDMC_DIR / "bidmc_01_Numerics.csv").iloc[
        -forecast.FIT_WINDOW_SECONDS :
    ]
    columns = [window[name].to_numpy() for name in forecast.PARAMETERS]
    models = [forecast.fit(values) for values in columns]

    def risk_inference():
        latest = window.iloc[-1]
        news2.score(
            news2.News2Inputs(
                resp_rate=latest["resp_rate"],
                spo2=latest["spo2"],
                pulse=latest["heart_rate"],
            )
        )
        for values, model in zip(columns, models, strict=True):
            forecast.predict(forecast.update(model, values))

    return {
        "ecg_sync": lambda: ecg.compact_chunk(chunk, record.fs, 0.0),
        "anomaly_detection": lambda: ecg.rhythm_metrics(
            ecg.detect_beats(chunk[:, 0], record.fs), record.fs
        ),
        "risk_inference": risk_inference,
        "model_update": lambda: [forecast.fit(values) for values in columns],
    }


def _time(function, runs: int) -> float:
    function()
    durations = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def _machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    bogomips = float(
        next(
            line.split(":", 1)[1]
            for line in cpuinfo.splitlines()
            if line.lower().startswith("bogomips")
        )
    )
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "bogomips": bogomips,
        "memory_gb": memory_gib(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "wfdb": wfdb.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs per task")
    parser.add_argument("--output", type=Path, default=COSTS_PATH)
    args = parser.parse_args()

    machine = _machine()
    workloads = _workloads()
    tasks = {}
    for name in TASKS:
        seconds = _time(workloads[name], args.runs)
        tasks[name] = {
            "median_seconds": seconds,
            "runs": args.runs,
            "description": DESCRIPTIONS[name],
        }
    mips = assumed_mips(machine["bogomips"])
    result = {
        "machine": machine,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "assumed_mips": mips,
        "tasks": tasks,
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| task | median ms | est. MI per run (at {mips:.0f} MIPS) |")
    print("| --- | --- | --- |")
    for name, row in tasks.items():
        seconds = row["median_seconds"]
        print(f"| {name} | {seconds * 1000:.3f} | {seconds * mips:.1f} |")


if __name__ == "__main__":
    main()
