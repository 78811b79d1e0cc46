"""Store a batch of readings and update the twins, all or nothing."""

import logging
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from twins import live
from twins.models import Bed, Patient, TwinState
from twins.twin import merge_latest, score_twin
from twins.vitals import FieldError, Reading, parse_reading

logger = logging.getLogger(__name__)

MAX_BATCH_READINGS = 5000


class IngestError(Exception):
    """A batch was rejected; ``errors`` lists every invalid field."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        first = errors[0]
        super().__init__(
            f"reading {first.index}: {first.message} (got {first.value!r})"
        )


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int
    flagged: int
    beds_updated: int


def _validate(batch: object) -> list[Reading]:
    if not isinstance(batch, list) or not batch:
        raise IngestError(
            [FieldError(-1, "readings", batch, "readings must be a non-empty list")]
        )
    if len(batch) > MAX_BATCH_READINGS:
        raise IngestError(
            [
                FieldError(
                    -1,
                    "readings",
                    len(batch),
                    f"too many readings: at most {MAX_BATCH_READINGS} per batch",
                )
            ]
        )
    now = timezone.now()
    readings, errors = [], []
    for index, raw in enumerate(batch):
        parsed = parse_reading(index, raw, now)
        if isinstance(parsed, list):
            errors.extend(parsed)
        else:
            readings.append(parsed)
    if errors:
        raise IngestError(errors)
    return readings


def _resolve_beds(readings: list[Reading]) -> list[tuple[Reading, Bed, Patient | None]]:
    bed_codes = {r.bed_code for r in readings if r.bed_code}
    pseudonyms = {r.patient_pseudonym for r in readings if r.patient_pseudonym}
    beds = {bed.code: bed for bed in Bed.objects.filter(code__in=bed_codes)}
    admitted = {
        patient.pseudonym: patient
        for patient in Patient.objects.select_related("bed").filter(
            pseudonym__in=pseudonyms, discharged_at__isnull=True, bed__isnull=False
        )
    }
    by_bed = {
        patient.bed_id: patient
        for patient in Patient.objects.filter(
            bed__in=beds.values(), discharged_at__isnull=True
        )
    }
    resolved, errors = [], []
    for index, reading in enumerate(readings):
        if reading.patient_pseudonym:
            patient = admitted.get(reading.patient_pseudonym)
            if patient is None:
                errors.append(
                    FieldError(
                        index,
                        "patient",
                        reading.patient_pseudonym,
                        "unknown patient: no admitted patient has this pseudonym",
                    )
                )
                continue
            bed = patient.bed
            if reading.bed_code and reading.bed_code != bed.code:
                errors.append(
                    FieldError(
                        index,
                        "bed",
                        reading.bed_code,
                        f"bed does not match patient's bed {bed.code}",
                    )
                )
                continue
        else:
            bed = beds.get(reading.bed_code)
            if bed is None:
                errors.append(FieldError(index, "bed", reading.bed_code, "unknown bed"))
                continue
            patient = by_bed.get(bed.pk)
        resolved.append((reading, bed, patient))
    if errors:
        raise IngestError(errors)
    return resolved


_INSERT_SQL = """
INSERT INTO twins_observation
    (bed_id, patient_id, device, parameter, value, unit, observed_at,
     received_at, source, flagged, flag_reason)
VALUES {values}
ON CONFLICT (device, parameter, observed_at) DO NOTHING
RETURNING id
"""


def _insert(resolved, source: str) -> int:
    """Insert in one statement; return how many rows were new."""
    now = timezone.now()
    params = []
    for reading, bed, patient in resolved:
        params += [
            bed.pk,
            patient.pk if patient else None,
            reading.device,
            reading.parameter,
            reading.value,
            reading.unit,
            reading.observed_at,
            now,
            source,
            reading.flagged,
            reading.flag_reason,
        ]
    values = ",".join(["(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"] * len(resolved))
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL.format(values=values), params)
        return len(cursor.fetchall())


def _update_twins(resolved) -> list[int]:
    by_bed = defaultdict(list)
    for reading, bed, patient in resolved:
        by_bed[bed.pk].append((reading, patient))
    changed = []
    # Lock twins in bed order so two concurrent batches cannot deadlock.
    for bed_id in sorted(by_bed):
        twin, _ = TwinState.objects.select_for_update().get_or_create(bed_id=bed_id)
        moved = False
        for reading, _patient in by_bed[bed_id]:
            moved |= merge_latest(
                twin.latest,
                reading.parameter,
                reading.value,
                reading.observed_at,
                reading.flagged,
                reading.flag_reason,
            )
        if not moved:
            continue
        patient = by_bed[bed_id][0][1]
        twin.news2 = score_twin(twin.latest, patient.spo2_scale if patient else 1)
        twin.sequence += 1
        twin.updated_at = timezone.now()
        twin.save(update_fields=["latest", "news2", "sequence", "updated_at"])
        changed.append(bed_id)
    return changed


def ingest(batch: object, source: str) -> IngestResult:
    """Validate ``batch``, store new readings and update the twins.

    Raises ``IngestError`` naming every invalid field; then nothing is
    stored. Readings already stored (same device, parameter and time) are
    counted as duplicates and skipped.
    """
    readings = _validate(batch)
    with transaction.atomic():
        resolved = _resolve_beds(readings)
        stored = _insert(resolved, source)
        changed = _update_twins(resolved)
        transaction.on_commit(lambda: live.broadcast_beds(changed))
    return IngestResult(
        received=len(readings),
        stored=stored,
        duplicates=len(readings) - stored,
        flagged=sum(1 for r in readings if r.flagged),
        beds_updated=len(changed),
    )
