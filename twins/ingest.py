"""Store a batch of readings and update the twins, all or nothing."""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from twins import alerts, live
from twins.models import (
    Alert,
    AlertKind,
    AlertState,
    Bed,
    Patient,
    Spo2ScaleDecision,
    TwinState,
)
from twins.signals import risk_band_changed
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
     received_at, source, flagged, flag_reason, entered_by_id)
VALUES {values}
ON CONFLICT (device, parameter, observed_at) DO NOTHING
RETURNING id
"""


def _insert(resolved, source: str, entered_by_id: int | None) -> int:
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
            entered_by_id,
        ]
    values = ",".join(["(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"] * len(resolved))
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL.format(values=values), params)
        return len(cursor.fetchall())


def _reading_clock(latest: dict, now: datetime) -> datetime:
    """Return the time alerts are stamped with: the newest reading's, or now.

    Holds and escalation then count in the time of the data, so a buffered
    or replayed stretch gives the alerts it would have given live. A device
    clock running ahead never stamps an alert in the future.
    """
    times = [datetime.fromisoformat(entry["at"]) for entry in latest.values()]
    return min(max(times), now) if times else now


def rescore(
    twin: TwinState,
    bed: Bed,
    patient: Patient | None,
    news2_alert_open: bool = True,
) -> None:
    """Rescore a locked twin, update its NEWS2 alert and save it.

    The caller has locked the twin row (``select_for_update``). Alert frames take
    sequence numbers before the twin's own change, so the "bed.updated" frame
    sent after commit carries the highest one. A caller that knows the bed
    has no open NEWS2 alert passes ``news2_alert_open=False``, and the alert
    is then only looked at when the new score raises one.
    """
    old_band = twin.news2.get("band")
    now = timezone.now()
    twin.news2 = score_twin(
        twin.latest,
        patient.spo2_scale if patient else 1,
        _reading_clock(twin.latest, now),
    )
    if news2_alert_open or alerts.news2_condition(twin.news2) is not None:
        alerts.update_news2_alert(
            bed, patient, twin.news2, now=_reading_clock(twin.latest, now), twin=twin
        )
    twin.sequence += 1
    twin.updated_at = now
    twin.save(update_fields=["latest", "news2", "sequence", "updated_at"])
    new_band = twin.news2["band"]
    if new_band != old_band:
        transaction.on_commit(
            lambda: risk_band_changed.send(
                sender=TwinState, bed=bed, old_band=old_band, new_band=new_band
            )
        )


def _update_twins(resolved) -> list[int]:
    by_bed = defaultdict(list)
    beds = {}
    for reading, bed, patient in resolved:
        by_bed[bed.pk].append((reading, patient))
        beds[bed.pk] = bed
    changed = []
    twins = _lock_twins(sorted(by_bed))
    # Every alert change takes its twin's lock first (alerts._twin_locked), so
    # with the batch's twins locked this set stays true until the commit.
    # Beds without an open alert then skip the per-alert queries.
    open_alerts = set(
        Alert.objects.filter(bed_id__in=by_bed)
        .exclude(state=AlertState.RESOLVED)
        .values_list("bed_id", "kind")
    )
    for bed_id in sorted(by_bed):
        twin = twins[bed_id]
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
        if (bed_id, AlertKind.SIGNAL_LOST) in open_alerts:
            alerts.clear_condition(
                beds[bed_id], AlertKind.SIGNAL_LOST, "cleared: data received", twin=twin
            )
        rescore(
            twin,
            beds[bed_id],
            by_bed[bed_id][0][1],
            news2_alert_open=(bed_id, AlertKind.NEWS2) in open_alerts,
        )
        changed.append(bed_id)
    return changed


def _lock_twins(bed_ids: list[int]) -> dict[int, TwinState]:
    """Lock the twins of ``bed_ids`` in bed order, creating missing ones.

    PostgreSQL locks the rows of ``ORDER BY bed_id ... FOR UPDATE`` in that
    order. Every batch locks twins this way, so two batches cannot deadlock.
    """
    query = TwinState.objects.select_for_update().order_by("bed_id")
    locked = {twin.bed_id: twin for twin in query.filter(bed_id__in=bed_ids)}
    missing = [bed_id for bed_id in bed_ids if bed_id not in locked]
    if missing:
        # Only a bed created without its twin gets here.
        TwinState.objects.bulk_create(
            [TwinState(bed_id=bed_id) for bed_id in missing], ignore_conflicts=True
        )
        locked.update({twin.bed_id: twin for twin in query.filter(bed_id__in=missing)})
    return locked


def ingest(batch: object, source: str, entered_by=None) -> IngestResult:
    """Validate ``batch``, store new readings and update the twins.

    ``entered_by`` is the user who typed the readings in, for nurse entry.

    Raises ``IngestError`` naming every invalid field; then nothing is
    stored. Readings already stored (same device, parameter and time) are
    counted as duplicates and skipped.
    """
    readings = _validate(batch)
    with transaction.atomic():
        resolved = _resolve_beds(readings)
        stored = _insert(resolved, source, entered_by.pk if entered_by else None)
        changed = _update_twins(resolved)
        transaction.on_commit(lambda: live.broadcast_beds(changed))
    return IngestResult(
        received=len(readings),
        stored=stored,
        duplicates=len(readings) - stored,
        flagged=sum(1 for r in readings if r.flagged),
        beds_updated=len(changed),
    )


class ScaleDecisionError(ValueError):
    """An invalid SpO2 scale decision; names the field, value and rule."""

    def __init__(self, field: str, value, message: str):
        self.field = field
        self.value = value
        self.message = message
        super().__init__(f"{field}={value!r}: {message}")


MIN_REASON_CHARACTERS = 10
MAX_REASON_CHARACTERS = 500


def decide_spo2_scale(patient: Patient, scale, reason, user) -> Spo2ScaleDecision:
    """Record who moved ``patient`` to SpO2 ``scale`` and why, then rescore.

    Scale 2 is for a prescribed target saturation of 88-92 %, typically in
    hypercapnic respiratory failure (RCP NEWS2, 2017), so the reason is
    required and kept with the user and time.
    """
    if scale not in (1, 2):
        raise ScaleDecisionError("scale", scale, "invalid SpO2 scale: use 1 or 2")
    reason = reason.strip() if isinstance(reason, str) else ""
    if not MIN_REASON_CHARACTERS <= len(reason) <= MAX_REASON_CHARACTERS:
        raise ScaleDecisionError(
            "reason",
            reason,
            f"a reason of {MIN_REASON_CHARACTERS} to {MAX_REASON_CHARACTERS} "
            "characters is required, such as the prescribed target range",
        )
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        if patient.discharged_at is not None or patient.bed_id is None:
            raise ScaleDecisionError(
                "patient", patient.pseudonym, "patient is not admitted to a bed"
            )
        if patient.spo2_scale == scale:
            raise ScaleDecisionError(
                "scale", scale, f"patient is already scored on SpO2 scale {scale}"
            )
        decision = Spo2ScaleDecision.objects.create(
            patient=patient,
            scale=scale,
            previous_scale=patient.spo2_scale,
            reason=reason,
            decided_by=user,
        )
        patient.spo2_scale = scale
        patient.save(update_fields=["spo2_scale"])
        twin, _ = TwinState.objects.select_for_update().get_or_create(
            bed_id=patient.bed_id
        )
        rescore(twin, patient.bed, patient)
        bed_ids = [patient.bed_id]
        transaction.on_commit(lambda: live.broadcast_beds(bed_ids))
    logger.info(
        "patient %s moved to SpO2 scale %s by user %s", patient.pk, scale, user.pk
    )
    return decision
