"""Snapshots of bed twins and their delivery to ward groups over Channels.

Frames are sent only after the transaction that changed the twin commits,
so no page ever shows a reading that was rolled back.

A bed's ``sequence`` counts its "bed.updated" and "alert.updated" frames
together. A snapshot reads the twins before their alerts, so its alerts are
never older than its sequence: a frame that the page then drops as already
seen cannot hold alert news that the snapshot lacks.
"""

import logging
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db.models import Q
from django.utils import timezone

from scheduler.models import PlanningRun
from twins.alerts import serialize_alert
from twins.models import Alert, AlertState, Bed, Patient, Ward

logger = logging.getLogger(__name__)

BED_UPDATED = "bed.updated"
# The group message of one batch: a ward's changed beds together, which each
# consumer sends to its page as one "bed.updated" frame per bed.
BEDS_UPDATED = "beds.updated"
WARD_SNAPSHOT = "ward.snapshot"
BED_SNAPSHOT = "bed.snapshot"
PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}
ALERT_HISTORY_HOURS = 24
MAX_ALERT_HISTORY = 200


def latest_placements(ward: Ward, beds) -> dict[int, dict]:
    """Map bed id to where its twin's tasks run in the plan in force.

    The plan in force is the newest finished run of the ward or of the whole
    hospital, whichever solver produced it.
    """
    from scheduler.planning import placements_in_force

    bed_ids = {bed.pk for bed in beds}
    in_force = placements_in_force([ward.pk])
    runs = {
        run.pk: run
        for run in PlanningRun.objects.filter(
            pk__in={placement.run_id for placement in in_force.values()}
        )
    }
    placements = {}
    for placement in sorted(in_force.values(), key=lambda p: p.task_id):
        if placement.bed_id not in bed_ids:
            continue
        run = runs[placement.run_id]
        entry = placements.setdefault(
            placement.bed_id,
            {
                "run": run.pk,
                "solver": run.solver,
                "planned_at": run.finished_at.isoformat(),
                "tasks": [],
            },
        )
        entry["tasks"].append(
            {
                "task": placement.task_kind,
                "tier": placement.tier,
                "node": placement.node.name,
            }
        )
    return placements


def active_alerts_by_bed(beds) -> dict[int, list[dict]]:
    alerts = (
        Alert.objects.select_related("bed", "patient", "acknowledged_by")
        .filter(bed__in=beds)
        .exclude(state=AlertState.RESOLVED)
    )
    by_bed: dict[int, list[dict]] = {}
    for alert in sorted(
        alerts, key=lambda a: (PRIORITY_ORDER.get(a.priority, 9), a.raised_at)
    ):
        by_bed.setdefault(alert.bed_id, []).append(serialize_alert(alert))
    return by_bed


def alerts_changed_since(beds, since: datetime) -> list[dict]:
    """Return alerts of ``beds`` raised or acted on at or after ``since``.

    A page that reconnects passes the time it was last live, so an alert
    raised and resolved while it was away is still shown to the nurse.
    """
    alerts = (
        Alert.objects.select_related("bed", "patient", "acknowledged_by")
        .filter(bed__in=beds)
        .filter(Q(raised_at__gte=since) | Q(actions__at__gte=since))
        .distinct()
        .order_by("raised_at", "pk")
    )
    return [serialize_alert(alert) for alert in alerts]


def alert_history(bed: Bed, now: datetime | None = None) -> list[dict]:
    """Return the bed's alerts of the last day and all still open, newest first.

    Each alert carries its audit trail: who acted, when, and the note.
    """
    since = (now or timezone.now()) - timedelta(hours=ALERT_HISTORY_HOURS)
    alerts = (
        Alert.objects.select_related("bed", "patient", "acknowledged_by")
        .prefetch_related("actions__user")
        .filter(bed=bed)
        .filter(Q(raised_at__gte=since) | ~Q(state=AlertState.RESOLVED))
        .order_by("-raised_at", "-pk")[:MAX_ALERT_HISTORY]
    )
    history = []
    for alert in alerts:
        entry = serialize_alert(alert)
        entry["actions"] = [
            {
                "action": action.action,
                "user": action.user.get_username() if action.user_id else None,
                "at": action.at.isoformat(),
                "from_state": action.from_state,
                "to_state": action.to_state,
                "note": action.note,
                "silenced_until": (
                    action.silenced_until.isoformat() if action.silenced_until else None
                ),
            }
            for action in alert.actions.all()
        ]
        history.append(entry)
    return history


def bed_snapshot(
    bed: Bed,
    patient: Patient | None,
    alerts: list[dict] | None = None,
    placement: dict | None = None,
) -> dict:
    twin = getattr(bed, "twin", None)
    return {
        "bed": bed.code,
        "label": bed.label,
        "patient": patient.pseudonym if patient else None,
        "sequence": twin.sequence if twin else 0,
        "updated_at": twin.updated_at.isoformat() if twin and twin.updated_at else None,
        "vitals": twin.latest if twin else {},
        "news2": twin.news2 if twin else {},
        "forecast": twin.forecast if twin else {},
        "alerts": alerts or [],
        "placement": placement,
    }


def _admitted_by_bed(beds) -> dict[int, Patient]:
    return {
        patient.bed_id: patient
        for patient in Patient.objects.filter(bed__in=beds, discharged_at__isnull=True)
    }


def snapshots(ward: Ward, beds: list[Bed]) -> list[dict]:
    """Snapshot ``beds`` of ``ward``, whose twins must already be loaded."""
    patients = _admitted_by_bed(beds)
    alerts = active_alerts_by_bed(beds)
    placements = latest_placements(ward, beds)
    return [
        bed_snapshot(
            bed, patients.get(bed.pk), alerts.get(bed.pk), placements.get(bed.pk)
        )
        for bed in beds
    ]


def ward_snapshot(ward: Ward) -> list[dict]:
    beds = list(ward.beds.select_related("twin").order_by("code"))
    return snapshots(ward, beds)


def one_bed_snapshot(bed: Bed) -> dict:
    """Snapshot one bed for its panel, with its alert history."""
    fresh = Bed.objects.select_related("twin", "ward").get(pk=bed.pk)
    snapshot = snapshots(fresh.ward, [fresh])[0]
    snapshot["alert_history"] = alert_history(fresh)
    return snapshot


def broadcast_beds(bed_ids: list[int]) -> None:
    """Send the new state of ``bed_ids`` to their wards' groups.

    Each ward gets one group message for all its changed beds, so a batch
    from a ward gateway costs one Redis call and one message in every
    process's channel, not one per bed.
    """
    if not bed_ids:
        return
    beds = list(
        Bed.objects.select_related("twin", "ward").filter(pk__in=bed_ids).order_by("pk")
    )
    by_ward: dict[int, list[Bed]] = {}
    for bed in beds:
        by_ward.setdefault(bed.ward_id, []).append(bed)
    messages = [
        (ward_beds[0].ward, snapshots(ward_beds[0].ward, ward_beds))
        for ward_beds in by_ward.values()
    ]
    try:
        async_to_sync(_send_to_wards)(messages)
    except Exception:
        # As for one ward below, but for all: async_to_sync itself failed.
        logger.exception("live updates of beds %s not sent", bed_ids)


async def _send_to_wards(messages: list[tuple[Ward, list[dict]]]) -> None:
    layer = get_channel_layer()
    for ward, beds in messages:
        message = {"type": BEDS_UPDATED, "beds": beds}
        try:
            await layer.group_send(ward.group_name, message)
        except Exception:
            # The readings are stored and the twins updated. A page that
            # misses these frames detects the sequence jump and resyncs.
            logger.exception(
                "live update of ward %s not sent (beds %s)",
                ward.code, ", ".join(bed["bed"] for bed in beds),
            )  # fmt: skip
