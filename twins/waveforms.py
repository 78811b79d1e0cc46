"""ECG chunks from bedside devices: validate, store compactly, check rhythm.

A chunk is resampled onto the twin's 250 Hz grid (``twins.ecg.compact_chunk``)
and stored as one ``EcgChunk`` row of int16 counts, not one row per sample.
Each chunk of at least ``MIN_ASYSTOLE_CHECK_SECONDS`` is checked for asystole
with the ECG leads and, when the device sends it, the PLETH waveform of the
same stretch: asystole raises a high-priority alert, and a chunk with beats
resolves it.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from twins import alerts, ecg
from twins.models import AlertKind, Bed, EcgChunk, Patient, Priority
from twins.vitals import MAX_CLOCK_SKEW

logger = logging.getLogger(__name__)

MIN_FS_HZ = 125
MAX_FS_HZ = 1000
MIN_CHUNK_SECONDS = 1
MAX_CHUNK_SECONDS = 60
MAX_LEADS = 12
# Beyond +-20 mV is no surface ECG: the lead is off or the unit is wrong.
MAX_ABS_MILLIVOLTS = 20.0
# check_asystole needs a 4 s pause inside the window to say anything.
MIN_ASYSTOLE_CHECK_SECONDS = 8


class ChunkError(ValueError):
    """An invalid chunk; names the field, the value and what is allowed."""

    def __init__(self, field: str, value, message: str):
        self.field, self.value, self.message = field, value, message
        super().__init__(f"{field}: {message}")

    def as_dict(self) -> dict:
        return {"field": self.field, "value": self.value, "message": self.message}


@dataclass(frozen=True)
class ChunkResult:
    chunk_id: int
    duplicate: bool
    start_at: str
    samples: int
    beats: int
    heart_rate_per_min: float | None
    asystole: bool | None


def _short(value):
    # Echo a short invalid value in the error, but never a huge one.
    return value if not isinstance(value, (list, str)) or len(value) < 20 else None


def _parse_header(body: dict):
    device = body.get("device")
    if not isinstance(device, str) or not 0 < len(device) <= 100:
        raise ChunkError("device", device, "invalid device: 1 to 100 characters")
    raw_start = body.get("start")
    start = parse_datetime(raw_start) if isinstance(raw_start, str) else None
    if start is None or timezone.is_naive(start):
        raise ChunkError("start", raw_start, "invalid start: ISO 8601 with a time zone")
    if start > timezone.now() + MAX_CLOCK_SKEW:
        raise ChunkError(
            "start",
            raw_start,
            f"start is more than {MAX_CLOCK_SKEW} ahead of the server",
        )
    fs = body.get("fs")
    if (
        isinstance(fs, bool)
        or not isinstance(fs, (int, float))
        or not (MIN_FS_HZ <= fs <= MAX_FS_HZ)
    ):
        raise ChunkError(
            "fs", fs, f"invalid fs: a rate from {MIN_FS_HZ} to {MAX_FS_HZ} Hz"
        )
    leads = body.get("leads")
    if (
        not isinstance(leads, list)
        or not 1 <= len(leads) <= MAX_LEADS
        or not all(isinstance(name, str) and 0 < len(name) <= 16 for name in leads)
    ):
        raise ChunkError(
            "leads", leads, f"invalid leads: a list of 1 to {MAX_LEADS} lead names"
        )
    return device, start, float(fs), leads


def _parse_samples(body: dict, fs: float, leads: list[str]) -> np.ndarray:
    raw = body.get("samples")
    low, high = int(MIN_CHUNK_SECONDS * fs), int(MAX_CHUNK_SECONDS * fs)
    if not isinstance(raw, list) or not low <= len(raw) <= high:
        length = len(raw) if isinstance(raw, list) else _short(raw)
        raise ChunkError(
            "samples",
            length,
            f"invalid samples: {MIN_CHUNK_SECONDS} to {MAX_CHUNK_SECONDS} s of "
            f"rows, {low} to {high} at {fs:g} Hz",
        )
    try:
        values = np.array(raw, dtype=float).reshape(len(raw), -1)
    except (TypeError, ValueError):
        raise ChunkError(
            "samples", None, "invalid samples: rows of numbers in mV, one per lead"
        ) from None
    if values.shape[1] != len(leads):
        raise ChunkError(
            "samples",
            values.shape[1],
            f"each row needs {len(leads)} values, one per lead in leads",
        )
    if not np.isfinite(values).all() or np.abs(values).max() > MAX_ABS_MILLIVOLTS:
        raise ChunkError(
            "samples",
            None,
            f"invalid samples: finite values within +-{MAX_ABS_MILLIVOLTS:g} mV",
        )
    return values


def _parse_pleth(body: dict, samples: int) -> np.ndarray | None:
    raw = body.get("pleth")
    if raw is None:
        return None
    try:
        values = np.array(raw, dtype=float)
    except (TypeError, ValueError):
        values = None
    if values is None or values.shape != (samples,) or not np.isfinite(values).all():
        raise ChunkError(
            "pleth",
            _short(raw),
            f"invalid pleth: {samples} finite numbers, one per ECG row",
        )
    return values


def _update_asystole_alert(bed, patient, result, now) -> None:
    if result.asystole:
        message = f"asystole: no QRS for {ecg.ASYSTOLE_PAUSE_SECONDS:g} s or more"
        if result.pulses is not None:
            message += " and no pulse wave"
        condition = alerts.Condition(AlertKind.ASYSTOLE, Priority.HIGH, message)
        alerts.raise_alert(bed, patient, condition, now)
    else:
        alerts.clear_condition(bed, AlertKind.ASYSTOLE, "cleared: beats detected", now)


def store_chunk(bed: Bed, body: object) -> ChunkResult:
    """Validate ``body``, store it as one compact chunk and check its rhythm."""
    if not isinstance(body, dict):
        raise ChunkError("body", None, "invalid body: a JSON object")
    device, start, fs, leads = _parse_header(body)
    values = _parse_samples(body, fs, leads)
    pleth = _parse_pleth(body, len(values))

    compact = ecg.compact_chunk(values, fs, start.timestamp())
    start_at = datetime.fromtimestamp(compact.start_seconds, UTC)
    beats = ecg.detect_beats(values[:, 0], fs)
    rhythm = ecg.rhythm_metrics(beats, fs)
    check = None
    if len(values) >= MIN_ASYSTOLE_CHECK_SECONDS * fs:
        check = ecg.check_asystole(values, pleth, fs)

    # A duplicate rolls back with its alert update, so it changes nothing.
    try:
        with transaction.atomic():
            row = EcgChunk.objects.create(
                bed=bed,
                device=device,
                start_at=start_at,
                fs=compact.fs,
                microvolts_per_count=compact.microvolts_per_count,
                leads=leads,
                samples=len(compact.counts),
                data=compact.counts.astype("<i2").tobytes(),
            )
            if check is not None:
                patient = Patient.objects.filter(
                    bed=bed, discharged_at__isnull=True
                ).first()
                _update_asystole_alert(bed, patient, check, timezone.now())
        duplicate = False
    except IntegrityError:
        row = EcgChunk.objects.get(device=device, start_at=start_at)
        duplicate = True

    return ChunkResult(
        chunk_id=row.pk,
        duplicate=duplicate,
        start_at=start_at.isoformat(),
        samples=row.samples,
        beats=rhythm.beats,
        heart_rate_per_min=(
            None
            if rhythm.heart_rate_per_min is None
            else round(rhythm.heart_rate_per_min, 1)
        ),
        asystole=None if check is None else check.asystole,
    )
