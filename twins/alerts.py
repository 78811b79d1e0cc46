"""Alert lifecycle: raise, acknowledge, escalate, silence and resolve.

Priorities follow IEC 60601-1-8 practice (high, medium, low). A bed has at
most one unresolved alert per kind, so a condition that persists keeps one
alert and each new reading adds nothing. States and the transitions allowed:

    active        -> acknowledged, escalated, resolved
    acknowledged  -> escalated, resolved
    escalated     -> acknowledged, resolved
    resolved      -> (none)

Silencing pauses the alarm sound until ``silenced_until``; it changes no
state and is not an acknowledgement, so an unacknowledged alert still
escalates on time. Every transition writes an ``AlertAction`` row with who
(empty when the twin acted), when, the note and any silence end.

Frames: after each raise or action commits, the ward's channel group
(``Ward.group_name``) receives::

    {"type": "alert.updated", "bed": "icu1-bed01", "sequence": 42,
     "alert": <serialize_alert(alert)>}

``sequence`` is the bed's ``TwinState.sequence`` after the change. It counts
"bed.updated" and "alert.updated" frames of that bed together, so a page
that detects a jump has missed a frame of either type and asks for a
snapshot. ``serialize_alert`` returns::

    {"id": 7, "bed": "icu1-bed01", "patient": "P-0001" or null,
     "kind": "news2", "priority": "high", "state": "active",
     "message": "NEWS2 risk high; scoring 3: spo2", "raised_at": ISO 8601 UTC,
     "acknowledged_by": username or null, "acknowledged_at": ... or null,
     "escalated_at": ... or null, "silenced_until": ... or null,
     "silenced": bool at serialisation time, "resolved_at": ... or null}

Functions that act for a user check the user's role: a nurse assigned to
the bed's ward, or an admin. They raise ``AlertError`` (field, value,
message) for invalid input or transitions and ``AlertPermissionError`` for
a user without the right; in both cases nothing changes.
"""

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from medtwin.roles import ADMIN, NURSE, user_role
from twins.errors import FieldValueError
from twins.models import (
    Alert,
    AlertAction,
    AlertKind,
    AlertState,
    AlertThreshold,
    Bed,
    Patient,
    Priority,
    TwinState,
)
from twins.news2 import Band

logger = logging.getLogger(__name__)

ALERT_UPDATED = "alert.updated"

# Maximum silence per priority, in minutes. These are product choices, and
# every priority has one, so no alert can be silenced indefinitely.
MAX_SILENCE_MINUTES = {Priority.HIGH: 2, Priority.MEDIUM: 5, Priority.LOW: 15}

MAX_NOTE_CHARACTERS = 500

# Seconds a condition must stay clear, or at a lower priority, before its
# alert resolves. Physiological conditions wait, so a value flickering
# across a threshold keeps one alert; technical ones clear as soon as the
# signal is back. Product choices, like the limits above.
CLEAR_HOLD_SECONDS = {
    AlertKind.NEWS2: 30,
    AlertKind.SUSTAINED_CHANGE: 30,
    AlertKind.ASYSTOLE: 0,
    AlertKind.SIGNAL_LOST: 0,
    AlertKind.SIGNAL_QUALITY: 30,
}
_RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}

_TRANSITIONS = {
    "acknowledge": ({AlertState.ACTIVE, AlertState.ESCALATED}, AlertState.ACKNOWLEDGED),
    "escalate": ({AlertState.ACTIVE, AlertState.ACKNOWLEDGED}, AlertState.ESCALATED),
    "resolve": (
        {AlertState.ACTIVE, AlertState.ACKNOWLEDGED, AlertState.ESCALATED},
        AlertState.RESOLVED,
    ),
}

_BAND_PRIORITY = {
    Band.HIGH: Priority.HIGH,
    Band.MEDIUM: Priority.MEDIUM,
    # A single parameter scoring 3 calls for an "urgent ward-based response"
    # (RCP NEWS2 Chart 4), more than operator awareness.
    Band.LOW_MEDIUM: Priority.MEDIUM,
}


class AlertError(FieldValueError):
    """An invalid request on an alert; names the field, value and rule."""


class AlertPermissionError(PermissionError):
    """The user may not act on alerts of this bed's ward."""


@dataclass(frozen=True)
class Condition:
    """An alarm condition present on a bed according to its twin."""

    kind: str
    priority: str
    message: str


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def serialize_alert(alert: Alert, now: datetime | None = None) -> dict:
    """Return the JSON form used by the twin API and by "alert.updated" frames."""
    now = now or timezone.now()
    return {
        "id": alert.pk,
        "bed": alert.bed.code,
        "patient": alert.patient.pseudonym if alert.patient_id else None,
        "kind": alert.kind,
        "priority": alert.priority,
        "state": alert.state,
        "message": alert.message,
        "raised_at": _iso(alert.raised_at),
        "acknowledged_by": (
            alert.acknowledged_by.get_username() if alert.acknowledged_by_id else None
        ),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "escalated_at": _iso(alert.escalated_at),
        "silenced_until": _iso(alert.silenced_until),
        "silenced": bool(alert.silenced_until and alert.silenced_until > now),
        "resolved_at": _iso(alert.resolved_at),
    }


def active_alerts(bed: Bed) -> list[Alert]:
    """Return the bed's unresolved alerts, highest priority first."""
    alerts = (
        Alert.objects.select_related("bed", "patient", "acknowledged_by")
        .filter(bed=bed)
        .exclude(state=AlertState.RESOLVED)
    )
    return sorted(alerts, key=lambda a: (_RANK[a.priority], a.raised_at))


@contextmanager
def _twin_locked(bed_id: int, twin: TwinState | None):
    """Yield the bed's twin row, locked before any alert row.

    Ingest and the analysis task lock the twin and then its alerts, so every
    path takes the twin first and two of them cannot deadlock. A caller that
    has already locked the twin passes it and saves it; otherwise the lock is
    taken here and the new sequence saved on the way out.
    """
    if twin is not None:
        yield twin
        return
    with transaction.atomic():
        held, _ = TwinState.objects.select_for_update().get_or_create(bed_id=bed_id)
        first = held.sequence
        yield held
        if held.sequence != first:
            held.save(update_fields=["sequence"])


def _next_sequence(twin: TwinState) -> int:
    twin.sequence += 1
    return twin.sequence


def _send_frame(alert: Alert, sequence: int) -> None:
    frame = {
        "type": ALERT_UPDATED,
        "bed": alert.bed.code,
        "sequence": sequence,
        "alert": serialize_alert(alert),
    }
    group = alert.bed.ward.group_name

    def send():
        try:
            async_to_sync(get_channel_layer().group_send)(group, frame)
        except Exception:
            # The alert is stored; a page that misses this frame detects the
            # sequence jump and asks for a snapshot.
            logger.exception("alert frame for alert %s not sent", alert.pk)

    transaction.on_commit(send)


def _record(alert, action, user, now, from_state, note="", silenced_until=None):
    AlertAction.objects.create(
        alert=alert,
        action=action,
        user=user,
        at=now,
        from_state=from_state,
        to_state=alert.state,
        note=note,
        silenced_until=silenced_until,
    )


def _check_user(alert: Alert, user) -> None:
    role = user_role(user)
    if role == ADMIN:
        return
    if role == NURSE and alert.bed.ward.nurses.filter(pk=user.pk).exists():
        return
    raise AlertPermissionError(
        f"user {user.get_username()!r} may not act on alerts of ward "
        f"{alert.bed.ward.code}: needs role nurse assigned to the ward, or admin"
    )


def _check_note(note) -> str:
    if not isinstance(note, str):
        raise AlertError("note", note, "invalid note: must be text")
    if len(note) > MAX_NOTE_CHARACTERS:
        raise AlertError(
            "note",
            len(note),
            f"note too long: at most {MAX_NOTE_CHARACTERS} characters",
        )
    return note.strip()


def _locked(alert: Alert) -> Alert:
    # Lock only the alert row: PostgreSQL rejects FOR UPDATE across the
    # nullable patient join.
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("bed__ward", "patient")
        .get(pk=alert.pk)
    )


def _transition(alert, action, user, note, now, twin=None) -> Alert:
    allowed_from, to_state = _TRANSITIONS[action]
    with transaction.atomic(), _twin_locked(alert.bed_id, twin) as held:
        locked = _locked(alert)
        if locked.state not in allowed_from:
            allowed = ", ".join(sorted(allowed_from))
            raise AlertError(
                "state",
                locked.state,
                f"cannot {action} an alert that is {locked.state}: only from {allowed}",
            )
        from_state = locked.state
        locked.state = to_state
        if action == "acknowledge":
            locked.acknowledged_by, locked.acknowledged_at = user, now
        elif action == "escalate":
            locked.escalated_at = now
        else:
            locked.resolved_at = now
            locked.silenced_until = None
        locked.save()
        _record(locked, action, user, now, from_state, note)
        _send_frame(locked, _next_sequence(held))
    logger.info(
        "alert %s of bed %s: %s by %s",
        locked.pk,
        locked.bed.code,
        action,
        user.pk if user else "twin",
    )
    return locked


def acknowledge(alert: Alert, user, note: str = "", now=None) -> Alert:
    """Acknowledge ``alert`` for ``user``: someone is attending to it."""
    _check_user(alert, user)
    return _transition(
        alert, "acknowledge", user, _check_note(note), now or timezone.now()
    )


def escalate(alert: Alert, user=None, note: str = "", now=None) -> Alert:
    """Escalate ``alert``; ``user`` None means the twin escalated it on time-out.

    NOTE: escalation changes the state and sends a frame to the ward's pages;
    it pages no one outside MedTwin.
    """
    if user is not None:
        _check_user(alert, user)
    return _transition(
        alert, "escalate", user, _check_note(note), now or timezone.now()
    )


def resolve(alert: Alert, user=None, note: str = "", now=None, twin=None) -> Alert:
    """Resolve ``alert``; ``user`` None means its condition cleared."""
    if user is not None:
        _check_user(alert, user)
    return _transition(
        alert, "resolve", user, _check_note(note), now or timezone.now(), twin
    )


def thresholds() -> dict[str, dict[str, int]]:
    """Return each priority's escalation and silence limits in force.

    An admin's ``AlertThreshold`` row wins over the defaults.
    """
    limits = {
        priority: {
            "escalate_after_seconds": settings.ALERT_ESCALATE_AFTER_SECONDS[priority],
            "max_silence_minutes": MAX_SILENCE_MINUTES[priority],
        }
        for priority in (Priority.HIGH, Priority.MEDIUM, Priority.LOW)
    }
    for row in AlertThreshold.objects.all():
        limits[row.priority] = {
            "escalate_after_seconds": row.escalate_after_seconds,
            "max_silence_minutes": row.max_silence_minutes,
        }
    return limits


def _check_minutes(minutes, priority: str) -> int:
    maximum = thresholds()[priority]["max_silence_minutes"]
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise AlertError(
            "minutes", minutes, f"invalid minutes: a whole number from 1 to {maximum}"
        )
    if not 1 <= minutes <= maximum:
        raise AlertError(
            "minutes",
            minutes,
            f"a {priority}-priority alert can be silenced for 1 to {maximum} "
            "minutes at a time",
        )
    return minutes


def silence(alert: Alert, user, minutes: int, note: str = "", now=None) -> Alert:
    """Pause the sound of ``alert`` for ``minutes``, capped by its priority."""
    _check_user(alert, user)
    note = _check_note(note)
    now = now or timezone.now()
    with transaction.atomic(), _twin_locked(alert.bed_id, None) as held:
        locked = _locked(alert)
        if locked.state == AlertState.RESOLVED:
            raise AlertError(
                "state", locked.state, "cannot silence an alert that is resolved"
            )
        minutes = _check_minutes(minutes, locked.priority)
        locked.silenced_until = now + timedelta(minutes=minutes)
        locked.save(update_fields=["silenced_until"])
        _record(locked, "silence", user, now, locked.state, note, locked.silenced_until)
        _send_frame(locked, _next_sequence(held))
    logger.info("alert %s silenced for %s min by %s", locked.pk, minutes, user.pk)
    return locked


def _open_alert(bed: Bed, kind: str) -> Alert | None:
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("bed__ward", "patient")
        .filter(bed=bed, kind=kind)
        .exclude(state=AlertState.RESOLVED)
        .first()
    )


def _update_message(alert: Alert, message: str, now, twin) -> None:
    # Same priority, new detail (another parameter now scores 3): the alert
    # keeps its state, so an acknowledgement remains in force.
    alert.message = message[:300]
    alert.save(update_fields=["message"])
    alert.bed = Bed.objects.select_related("ward").get(pk=alert.bed_id)
    _record(alert, "update", None, now, alert.state, message[:500])
    _send_frame(alert, _next_sequence(twin))


def raise_alert(
    bed: Bed,
    patient: Patient | None,
    condition: Condition,
    now=None,
    twin: TwinState | None = None,
) -> tuple[Alert, bool]:
    """Raise ``condition`` on ``bed`` unless an alert of its kind is open.

    Returns the open alert and whether it is new. An open alert of the same
    kind but another priority is resolved and replaced, so a rise from
    medium to high asks for a fresh acknowledgement.
    """
    now = now or timezone.now()
    if condition.priority not in Priority.values:
        raise AlertError(
            "priority", condition.priority, "invalid priority: use high, medium or low"
        )
    with transaction.atomic(), _twin_locked(bed.pk, twin) as held:
        current = _open_alert(bed, condition.kind)
        if current is not None and current.priority == condition.priority:
            if current.message != condition.message:
                _update_message(current, condition.message, now, held)
            return current, False
        if current is not None:
            resolve(
                current, note=f"replaced: now {condition.message}", now=now, twin=held
            )
        alert = Alert.objects.create(
            bed=bed,
            patient=patient,
            kind=condition.kind,
            priority=condition.priority,
            message=condition.message[:300],
            raised_at=now,
        )
        alert.bed = Bed.objects.select_related("ward").get(pk=bed.pk)
        _record(alert, "raise", None, now, "")
        _send_frame(alert, _next_sequence(held))
    logger.info(
        "alert %s raised on bed %s: %s %s",
        alert.pk,
        bed.code,
        condition.priority,
        condition.kind,
    )
    return alert, True


def _holding(current: Alert, kind: str, now: datetime) -> bool:
    """Start or continue the clear hold; return whether it is still running."""
    hold = CLEAR_HOLD_SECONDS[kind]
    if current.clear_since is None and hold > 0:
        current.clear_since = now
        current.save(update_fields=["clear_since"])
        return True
    since = current.clear_since or now
    return (now - since).total_seconds() < hold


def apply_condition(
    bed: Bed,
    patient: Patient | None,
    kind: str,
    condition: Condition | None,
    clear_note: str,
    now=None,
    twin: TwinState | None = None,
) -> Alert | None:
    """Bring the bed's alert of ``kind`` in line with the twin's current state.

    ``condition`` None means the condition is absent. An alert whose
    condition cleared, or fell to a lower priority, stays open until it has
    been so for ``CLEAR_HOLD_SECONDS[kind]``; a higher priority replaces it
    at once. Returns the open alert, or None.
    """
    now = now or timezone.now()
    with transaction.atomic(), _twin_locked(bed.pk, twin) as held:
        current = _open_alert(bed, kind)
        lower = current is not None and (
            condition is None or _RANK[condition.priority] > _RANK[current.priority]
        )
        if lower:
            if _holding(current, kind, now):
                return current
            if condition is None:
                resolve(current, note=clear_note, now=now, twin=held)
                return None
        elif current is not None and current.clear_since is not None:
            current.clear_since = None
            current.save(update_fields=["clear_since"])
        if condition is None:
            return None
        alert, _ = raise_alert(bed, patient, condition, now, held)
        return alert


def clear_condition(
    bed: Bed, kind: str, note: str, now=None, twin=None
) -> Alert | None:
    """Resolve the bed's open alert of ``kind`` once its clear hold has passed."""
    return apply_condition(bed, None, kind, None, note, now, twin)


def news2_condition(news2: dict) -> Condition | None:
    """Return the NEWS2 alarm condition of a scored twin, or None."""
    priority = _BAND_PRIORITY.get(news2.get("band"))
    if priority is None:
        return None
    # The message leaves out the aggregate, which moves with every reading,
    # so the alert changes only when the band or the red parameters do.
    message = f"NEWS2 risk {news2['band']}"
    red = sorted(name for name, score in news2.get("scores", {}).items() if score == 3)
    if red:
        message += f"; scoring 3: {', '.join(red)}"
    if news2.get("partial"):
        message += "; partial score, a lower bound"
    return Condition(AlertKind.NEWS2, priority, message)


def update_news2_alert(bed, patient, news2: dict, now=None, twin=None) -> None:
    """Raise, replace or resolve the bed's NEWS2 alert to match ``news2``."""
    apply_condition(
        bed,
        patient,
        AlertKind.NEWS2,
        news2_condition(news2),
        f"cleared: NEWS2 {news2.get('aggregate')} ({news2.get('band')})",
        now,
        twin,
    )


def escalate_overdue(now: datetime | None = None) -> list[Alert]:
    """Escalate every active alert left unacknowledged past its priority's limit.

    The limits are an admin's ``AlertThreshold`` rows, or else
    ``settings.ALERT_ESCALATE_AFTER_SECONDS``, set per priority by the
    ``MEDTWIN_ESCALATE_*_SECONDS`` variables.
    """
    now = now or timezone.now()
    escalated = []
    for priority, limits in thresholds().items():
        seconds = limits["escalate_after_seconds"]
        overdue = Alert.objects.filter(
            state=AlertState.ACTIVE,
            priority=priority,
            raised_at__lte=now - timedelta(seconds=seconds),
        )
        for alert in overdue:
            try:
                escalated.append(
                    escalate(
                        alert, note=f"not acknowledged within {seconds} s", now=now
                    )
                )
            except AlertError:
                # Acknowledged or resolved between the query and the lock.
                logger.info("alert %s changed before escalation", alert.pk)
    return escalated
