"""Alert lifecycle: raising from NEWS2, actions, audit rows, frames, escalation."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.twins.conftest import BED, reading
from twins import alerts
from twins.alerts import AlertError, AlertPermissionError
from twins.ingest import ingest
from twins.models import Alert, AlertAction, AlertState, Bed, TwinState
from twins.signals import risk_band_changed
from twins.vitals import Source

pytestmark = pytest.mark.django_db

# Partial scores from monitor numerics (RCP NEWS2 Chart 1): respiration 25
# scores 3, pulse 135 scores 3, SpO2 91 on scale 1 scores 3.
NORMAL = {"heart_rate": 72, "resp_rate": 16, "spo2": 97}
RED_RESP = {"heart_rate": 72, "resp_rate": 25, "spo2": 97}  # 3: low-medium
MEDIUM = {"heart_rate": 135, "resp_rate": 25, "spo2": 97}  # 6: medium
HIGH = {"heart_rate": 135, "resp_rate": 25, "spo2": 91}  # 9: high


def seconds_ago(seconds):
    return timezone.now().replace(microsecond=0) - timedelta(seconds=seconds)


def open_alerts():
    return list(Alert.objects.exclude(state=AlertState.RESOLVED))


def test_alert_raised_for_red_parameter(ward, send_vitals):
    send_vitals(**RED_RESP)
    [alert] = open_alerts()
    assert alert.kind == "news2"
    assert alert.priority == "medium"
    assert alert.state == "active"
    assert "resp_rate" in alert.message
    assert alert.patient is not None
    [action] = alert.actions.all()
    assert action.action == "raise"
    assert action.user is None


def test_alert_not_raised_for_low_band(ward, send_vitals):
    send_vitals(**NORMAL)
    assert Alert.objects.count() == 0


def test_alert_persisting_condition_kept_once(ward, send_vitals):
    send_vitals(at=seconds_ago(3), **RED_RESP)
    send_vitals(at=seconds_ago(2), **RED_RESP)
    send_vitals(at=seconds_ago(1), **{**RED_RESP, "resp_rate": 27})
    assert Alert.objects.count() == 1
    assert AlertAction.objects.count() == 1


def test_alert_message_follows_red_parameters(ward, send_vitals):
    send_vitals(at=seconds_ago(2), **RED_RESP)
    send_vitals(at=seconds_ago(1), **MEDIUM)
    [alert] = open_alerts()
    assert alert.priority == "medium"
    assert "pulse" in alert.message
    assert "medium" in alert.message
    assert [a.action for a in alert.actions.all()] == ["raise", "update"]


def test_alert_band_rise_replaces_alert(ward, send_vitals, nurse):
    send_vitals(at=seconds_ago(2), **MEDIUM)
    medium = Alert.objects.get()
    alerts.acknowledge(medium, nurse)
    send_vitals(at=seconds_ago(1), **HIGH)
    medium.refresh_from_db()
    assert medium.state == "resolved"
    [high] = open_alerts()
    assert high.priority == "high"
    assert high.state == "active"


def news2_now(bed_code=BED):
    return TwinState.objects.get(bed__code=bed_code).news2


def update_news2_at(now):
    bed = Bed.objects.get(code=BED)
    alerts.update_news2_alert(bed, None, news2_now(), now=now)


def test_alert_resolved_after_clear_hold(ward, send_vitals):
    send_vitals(at=seconds_ago(2), **HIGH)
    send_vitals(at=seconds_ago(1), **NORMAL)
    alert = Alert.objects.get()
    assert alert.state == "active"
    assert alert.clear_since is not None
    hold = timedelta(seconds=alerts.CLEAR_HOLD_SECONDS["news2"])
    update_news2_at(alert.clear_since + hold - timedelta(seconds=1))
    alert.refresh_from_db()
    assert alert.state == "active"
    update_news2_at(alert.clear_since + hold)
    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert alert.resolved_at == alert.clear_since + hold
    resolve = alert.actions.get(action="resolve")
    assert resolve.user is None
    assert resolve.from_state == "active"
    assert "low" in resolve.note


def test_alert_flicker_keeps_one_alert(ward, send_vitals):
    send_vitals(at=seconds_ago(3), **HIGH)
    send_vitals(at=seconds_ago(2), **NORMAL)
    send_vitals(at=seconds_ago(1), **HIGH)
    alert = Alert.objects.get()
    assert alert.state == "active"
    assert alert.clear_since is None
    assert [a.action for a in alert.actions.all()] == ["raise"]


def test_alert_priority_drop_waits_for_hold(ward, send_vitals):
    send_vitals(at=seconds_ago(2), **HIGH)
    send_vitals(at=seconds_ago(1), **MEDIUM)
    high = Alert.objects.get()
    assert high.priority == "high"
    assert high.state == "active"
    hold = timedelta(seconds=alerts.CLEAR_HOLD_SECONDS["news2"])
    update_news2_at(high.clear_since + hold)
    high.refresh_from_db()
    assert high.state == "resolved"
    [medium] = open_alerts()
    assert medium.priority == "medium"


def test_acknowledge_records_user_and_note(ward, send_vitals, nurse):
    send_vitals(**HIGH)
    alert = alerts.acknowledge(Alert.objects.get(), nurse, note="at the bedside")
    assert alert.state == "acknowledged"
    assert alert.acknowledged_by == nurse
    action = alert.actions.get(action="acknowledge")
    assert action.user == nurse
    assert action.note == "at the bedside"
    assert action.from_state == "active"
    assert action.to_state == "acknowledged"


def test_acknowledge_twice_rejected(ward, send_vitals, nurse):
    send_vitals(**HIGH)
    alert = alerts.acknowledge(Alert.objects.get(), nurse)
    with pytest.raises(AlertError) as error:
        alerts.acknowledge(alert, nurse)
    assert error.value.field == "state"
    assert error.value.value == "acknowledged"
    assert "cannot acknowledge" in error.value.message
    assert alert.actions.count() == 2


def test_resolved_alert_rejects_every_action(ward, send_vitals, nurse):
    send_vitals(**HIGH)
    alert = alerts.resolve(Alert.objects.get(), nurse, note="sensor misplaced")
    assert alert.actions.get(action="resolve").user == nurse
    for act in (alerts.acknowledge, alerts.escalate, alerts.resolve):
        with pytest.raises(AlertError) as error:
            act(alert, nurse)
        assert error.value.value == "resolved"
    with pytest.raises(AlertError):
        alerts.silence(alert, nurse, 1)
    assert alert.actions.count() == 2


def test_escalate_then_acknowledge(ward, send_vitals, nurse):
    send_vitals(**MEDIUM)
    alert = alerts.escalate(Alert.objects.get(), nurse, note="calling the doctor")
    assert alert.state == "escalated"
    assert alert.escalated_at is not None
    with pytest.raises(AlertError):
        alerts.escalate(alert, nurse)
    alert = alerts.acknowledge(alert, nurse)
    assert alert.state == "acknowledged"


def test_silence_high_priority_capped(ward, send_vitals, nurse):
    send_vitals(**HIGH)
    alert = Alert.objects.get()
    with pytest.raises(AlertError) as error:
        alerts.silence(alert, nurse, 3)
    assert error.value.field == "minutes"
    assert error.value.value == 3
    assert "high-priority" in error.value.message
    assert "1 to 2 minutes" in error.value.message
    alert.refresh_from_db()
    assert alert.silenced_until is None
    assert alert.actions.count() == 1


@pytest.mark.parametrize("minutes", [0, -5, None, "2", 1.5, True])
def test_silence_invalid_minutes_rejected(ward, send_vitals, nurse, minutes):
    send_vitals(**HIGH)
    alert = Alert.objects.get()
    with pytest.raises(AlertError) as error:
        alerts.silence(alert, nurse, minutes)
    assert error.value.field == "minutes"
    assert error.value.value == minutes
    alert.refresh_from_db()
    assert alert.silenced_until is None


def test_silence_medium_within_cap(ward, send_vitals, nurse):
    send_vitals(**MEDIUM)
    now = timezone.now()
    alert = alerts.silence(Alert.objects.get(), nurse, 5, now=now)
    assert alert.silenced_until == now + timedelta(minutes=5)
    assert alert.state == "active"
    action = alert.actions.get(action="silence")
    assert action.user == nurse
    assert action.silenced_until == alert.silenced_until
    assert alerts.serialize_alert(alert, now=now)["silenced"] is True


def test_alert_note_too_long_rejected(ward, send_vitals, nurse):
    send_vitals(**HIGH)
    with pytest.raises(AlertError) as error:
        alerts.acknowledge(Alert.objects.get(), nurse, note="x" * 501)
    assert error.value.field == "note"
    assert Alert.objects.get().state == "active"


def test_alert_actions_need_assigned_nurse(ward, send_vitals, other_nurse, auditor):
    send_vitals(**HIGH)
    alert = Alert.objects.get()
    for user in (other_nurse, auditor):
        with pytest.raises(AlertPermissionError):
            alerts.acknowledge(alert, user)
        with pytest.raises(AlertPermissionError):
            alerts.silence(alert, user, 1)
    assert alert.actions.count() == 1


def test_alert_actions_allowed_for_admin(ward, send_vitals, admin_user):
    send_vitals(**HIGH)
    alert = alerts.acknowledge(Alert.objects.get(), admin_user)
    assert alert.acknowledged_by == admin_user


def test_escalation_timing_per_priority(ward, send_vitals, nurse, settings):
    send_vitals(**HIGH)
    alert = Alert.objects.get()
    limit = settings.ALERT_ESCALATE_AFTER_SECONDS["high"]
    just_before = alert.raised_at + timedelta(seconds=limit - 1)
    assert alerts.escalate_overdue(now=just_before) == []
    alerts.silence(alert, nurse, 2, now=just_before)
    at_limit = alert.raised_at + timedelta(seconds=limit)
    [escalated] = alerts.escalate_overdue(now=at_limit)
    assert escalated.pk == alert.pk
    assert escalated.state == "escalated"
    assert escalated.escalated_at == at_limit
    action = escalated.actions.get(action="escalate")
    assert action.user is None
    assert str(limit) in action.note
    assert alerts.escalate_overdue(now=at_limit + timedelta(hours=1)) == []


def test_escalation_limit_configurable(ward, send_vitals, settings):
    settings.ALERT_ESCALATE_AFTER_SECONDS = {"high": 20, "medium": 180, "low": 600}
    send_vitals(**HIGH)
    alert = Alert.objects.get()
    early = alert.raised_at + timedelta(seconds=19)
    assert alerts.escalate_overdue(now=early) == []
    [escalated] = alerts.escalate_overdue(now=early + timedelta(seconds=1))
    assert escalated.pk == alert.pk


def test_escalation_skips_acknowledged(ward, send_vitals, nurse):
    send_vitals(**MEDIUM)
    alert = alerts.acknowledge(Alert.objects.get(), nurse)
    later = alert.raised_at + timedelta(hours=1)
    assert alerts.escalate_overdue(now=later) == []
    alert.refresh_from_db()
    assert alert.state == "acknowledged"


def test_alert_frames_share_bed_sequence(
    ward, send_vitals, ward_listener, nurse, django_capture_on_commit_callbacks
):
    send_vitals(**HIGH)
    raised, updated = ward_listener.drain()
    assert raised["type"] == "alert.updated"
    assert raised["bed"] == BED
    assert raised["alert"]["priority"] == "high"
    assert raised["alert"]["state"] == "active"
    assert updated["type"] == "beds.updated"
    [bed] = updated["beds"]
    assert bed["sequence"] == raised["sequence"] + 1

    with django_capture_on_commit_callbacks(execute=True):
        alerts.acknowledge(Alert.objects.get(), nurse)
    [acknowledged] = ward_listener.drain()
    assert acknowledged["sequence"] == bed["sequence"] + 1
    assert acknowledged["alert"]["state"] == "acknowledged"
    assert acknowledged["alert"]["acknowledged_by"] == nurse.username
    twin = TwinState.objects.get(bed__code=BED)
    assert twin.sequence == acknowledged["sequence"]


def test_alert_frame_not_sent_on_rejection(
    ward, send_vitals, ward_listener, nurse, django_capture_on_commit_callbacks
):
    send_vitals(**HIGH)
    ward_listener.drain()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(AlertError):
            alerts.silence(Alert.objects.get(), nurse, 10)
    assert callbacks == []
    assert ward_listener.drain() == []


def test_active_alerts_ordered_by_priority(ward, send_vitals):
    send_vitals(**MEDIUM)
    bed = Bed.objects.get(code=BED)
    patient = Alert.objects.get().patient
    condition = alerts.Condition("asystole", "high", "no QRS and no pulse for 4 s")
    alerts.raise_alert(bed, patient, condition)
    assert [a.priority for a in alerts.active_alerts(bed)] == ["high", "medium"]


def test_raise_alert_invalid_priority_rejected(ward):
    bed = Bed.objects.get(code=BED)
    with pytest.raises(AlertError) as error:
        alerts.raise_alert(bed, None, alerts.Condition("asystole", "urgent", "x"))
    assert error.value.field == "priority"
    assert error.value.value == "urgent"
    assert Alert.objects.count() == 0


def test_risk_band_changed_sent_on_band_change(ward, send_vitals):
    received = []

    def listener(sender, **kwargs):
        received.append((kwargs["bed"].code, kwargs["old_band"], kwargs["new_band"]))

    risk_band_changed.connect(listener)
    try:
        send_vitals(at=seconds_ago(3), **NORMAL)
        send_vitals(at=seconds_ago(2), **NORMAL)
        send_vitals(at=seconds_ago(1), **HIGH)
    finally:
        risk_band_changed.disconnect(listener)
    assert received == [(BED, None, "low"), (BED, "low", "high")]


@pytest.mark.django_db(transaction=True)
def test_alert_actions_race_ingest_without_deadlock(ward, nurse):
    """Nurse actions and ingest lock the twin, then the alert, in that order."""
    start = timezone.now().replace(microsecond=0) - timedelta(seconds=120)
    ingest([reading(n, v, start) for n, v in HIGH.items()], Source.DEVICE)
    failures = []

    def readings_in():
        try:
            for second in range(1, 60):
                values = HIGH if second % 2 else MEDIUM
                at = start + timedelta(seconds=second)
                ingest([reading(n, v, at) for n, v in values.items()], Source.DEVICE)
        except Exception as error:
            failures.append(error)
        finally:
            connection.close()

    def nurse_acts():
        try:
            for _ in range(60):
                alert = Alert.objects.exclude(state=AlertState.RESOLVED).first()
                if alert is None:
                    continue
                try:
                    alerts.silence(alert, nurse, 1)
                    alerts.acknowledge(alert, nurse)
                except AlertError:
                    pass  # Replaced or already acknowledged meanwhile.
        except Exception as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=readings_in),
        threading.Thread(target=nurse_acts),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    twin = TwinState.objects.get(bed__code=BED)
    assert (
        twin.latest["heart_rate"]["at"] == (start + timedelta(seconds=59)).isoformat()
    )
