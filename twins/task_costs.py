"""Measured compute cost of each twin task, in seconds and estimated MI.

``scripts/measure_task_costs.py`` times each task on real recordings on one
machine and writes ``twins/task_costs.json``. The placement model counts
compute in million instructions (MI) per run; this machine's hardware
counters are not readable (``perf stat -e instructions`` reports "not
supported" in this virtual machine), so seconds become MI through an
assumed rating of the measuring CPU:

    MI per run = median seconds per run x assumed MIPS

NOTE: the assumed MIPS is an estimate, clock (half the kernel's BogoMIPS on
x86) times an assumed 2 instructions per cycle, not a measurement; replace
it with a counted figure where hardware counters are available.
"""

import json
from dataclasses import dataclass
from pathlib import Path

COSTS_PATH = Path(__file__).resolve().parent / "task_costs.json"
TASKS = ("ecg_sync", "anomaly_detection", "risk_inference", "model_update")
ASSUMED_INSTRUCTIONS_PER_CYCLE = 2.0


@dataclass(frozen=True)
class TaskCost:
    task: str
    median_seconds: float
    runs: int
    description: str


@dataclass(frozen=True)
class MeasuredCosts:
    machine: dict
    measured_at: str
    assumed_mips: float
    tasks: dict[str, TaskCost]

    def million_instructions(self, task: str) -> float:
        """Return the estimated MI per run of ``task`` on the measuring CPU."""
        return self.tasks[task].median_seconds * self.assumed_mips


def assumed_mips(bogomips: float) -> float:
    """Estimate a core's MIPS from the kernel's x86 BogoMIPS (2 x clock MHz)."""
    return bogomips / 2 * ASSUMED_INSTRUCTIONS_PER_CYCLE


def load_costs(path: Path = COSTS_PATH) -> MeasuredCosts:
    """Read the measured costs; raises FileNotFoundError if never measured."""
    data = json.loads(path.read_text())
    tasks = {name: TaskCost(task=name, **row) for name, row in data["tasks"].items()}
    missing = set(TASKS) - set(tasks)
    if missing:
        raise ValueError(
            f"{path} lacks tasks {sorted(missing)}: run scripts/measure_task_costs.py"
        )
    return MeasuredCosts(
        machine=data["machine"],
        measured_at=data["measured_at"],
        assumed_mips=data["assumed_mips"],
        tasks=tasks,
    )
