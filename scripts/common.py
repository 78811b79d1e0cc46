"""Helpers shared by the benchmark and load scripts.

Some of the scripts never set Django up, so nothing here imports Django at
module level.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from twins.models import Bed

DAY_SECONDS = 24 * 3600
# Baseline value and UCUM unit of each parameter that store_day can write.
DAY_BASELINES = {
    "heart_rate": (80, "/min"),
    "pulse_rate": (80, "/min"),
    "resp_rate": (16, "/min"),
    "spo2": (96, "%"),
}


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo.

    Where that file is missing or has no "model name" line (arm64 Linux, for
    one), fall back to the processor or machine type that ``platform`` reports.
    """
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def memory_gib() -> float | None:
    """Return the total memory in GiB from /proc/meminfo, or None if unreadable."""
    try:
        total_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(total_kib / 2**20, 1)


def machine(*packages: str) -> dict:
    """Describe this machine and the installed versions of ``packages``.

    Each version is keyed by the lower-cased distribution name. The load
    average is read at the call, so call this just before the measured work.
    """
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "python": platform.python_version(),
        **{name.lower(): metadata.version(name) for name in packages},
        "load_average_start": os.getloadavg(),
    }


def store_day(bed: Bed, parameters: Sequence[str], device: str, end: datetime) -> int:
    """Store 24 hours of 1 Hz readings for ``bed`` up to ``end``, and return the count.

    ``parameters`` are keys of DAY_BASELINES. Each value cycles from the
    baseline to the baseline + 4, so every run stores the same data.
    """
    from django.db import connection

    from twins.models import Observation, Patient

    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    rows = []
    for parameter in parameters:
        base, unit = DAY_BASELINES[parameter]
        for second in range(DAY_SECONDS):
            rows.append(
                Observation(
                    bed=bed, patient=patient, device=device, parameter=parameter,
                    value=base + second % 5, unit=unit,
                    observed_at=end - timedelta(seconds=second), source="replay",
                )
            )  # fmt: skip
    Observation.objects.bulk_create(rows, batch_size=10_000)
    # Autovacuum would analyze the table soon after such an insert. Without
    # statistics the planner takes the bed for nearly empty and sorts on disk.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Observation._meta.db_table}")
    return len(rows)
