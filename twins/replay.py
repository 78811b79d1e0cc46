"""Replay of real 1 Hz monitor recordings into the twins, one record per bed.

A record that ends starts again after ``loop_gap_seconds`` with no data, so a
loop shows as a gap in the stored series and on the ward overview, never as a
seamless join that would pass for a continuous patient.
"""

import csv
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

from twins.ingest import ingest
from twins.vitals import PARAMETERS, Source

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data" / "bidmc"
DEFAULT_LOOP_GAP_SECONDS = 60

# BIDMC numerics columns (names keep PhysioNet's leading space, stripped here).
COLUMNS = {
    "HR": "heart_rate",
    "PULSE": "pulse_rate",
    "RESP": "resp_rate",
    "SpO2": "spo2",
}


@dataclass(frozen=True)
class Record:
    name: str
    rows: list[dict[str, float]]  # one dict per second, missing cells left out


def load_record(path: Path) -> Record:
    rows = []
    with open(path, newline="") as handle:
        for raw in csv.DictReader(handle):
            row = {}
            for column, parameter in COLUMNS.items():
                cell = raw.get(f" {column}", raw.get(column, "")).strip()
                if cell:
                    row[parameter] = float(cell)
            rows.append(row)
    return Record(name=path.stem.replace("_Numerics", ""), rows=rows)


def available_records() -> list[Path]:
    return sorted(DATA_DIR.glob("bidmc_*_Numerics.csv"))


class Replay:
    """Streams ``records[i]`` into ``bed_codes[i]``."""

    def __init__(
        self,
        bed_codes: list[str],
        records: list[Record],
        loop_gap_seconds: int = DEFAULT_LOOP_GAP_SECONDS,
    ):
        if not bed_codes:
            raise ValueError("replay needs at least one bed")
        if not records:
            raise ValueError(f"no recordings found in {DATA_DIR}")
        if loop_gap_seconds < 1:
            raise ValueError(
                f"invalid loop_gap_seconds {loop_gap_seconds}: use 1 or more, "
                "so the loop shows as a gap"
            )
        self.pairs = [
            (bed, records[index % len(records)]) for index, bed in enumerate(bed_codes)
        ]
        self.loop_gap_seconds = loop_gap_seconds

    def readings_at(self, second: int, observed_at: datetime) -> list[dict]:
        """Build the readings of every bed for ``second`` since the start."""
        batch = []
        for bed, record in self.pairs:
            period = len(record.rows) + self.loop_gap_seconds
            position = second % period
            if position >= len(record.rows):
                continue  # the gap between two loops
            for parameter, value in record.rows[position].items():
                batch.append(
                    {
                        "bed": bed,
                        "device": f"replay-{record.name}-{bed}",
                        "timestamp": observed_at.isoformat(),
                        "parameter": parameter,
                        "value": value,
                        "unit": PARAMETERS[parameter].unit,
                    }
                )
        return batch

    def step(self, second: int, observed_at: datetime):
        batch = self.readings_at(second, observed_at)
        if not batch:
            return None
        return ingest(batch, Source.REPLAY)

    def run(self, seconds: int | None = None) -> int:
        """Replay at the recorded 1 Hz rate until stopped or ``seconds`` pass.

        Returns the number of seconds replayed. Readings carry the wall-clock
        second they are sent in, so the twin is live.
        """
        second = 0
        start = time.monotonic()
        while seconds is None or second < seconds:
            observed_at = timezone.now().replace(microsecond=0)
            try:
                result = self.step(second, observed_at)
            except Exception:
                # Keep streaming: one failed second must not end the replay.
                logger.exception("replay second %s failed", second)
                result = None
            if result is not None and second % 60 == 0:
                logger.info(
                    "replay second %s: %s readings stored, %s flagged",
                    second,
                    result.stored,
                    result.flagged,
                )
            second += 1
            delay = start + second - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return second

    def backfill(self, seconds: int, end: datetime) -> None:
        """Ingest ``seconds`` of data ending at ``end`` without waiting."""
        first = end - timedelta(seconds=seconds - 1)
        for second in range(seconds):
            self.step(second, first + timedelta(seconds=second))
