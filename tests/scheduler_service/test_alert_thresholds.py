"""Admins tune when alerts escalate and how long they may be silenced."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from scheduler.models import ChangeLog
from twins import alerts
from twins.models import Alert, AlertThreshold, Patient

pytestmark = pytest.mark.django_db

URL = "/scheduler/alert-thresholds/"
VALID = {
    "high_escalate_after_seconds": "30",
    "high_max_silence_minutes": "1",
    "medium_escalate_after_seconds": "120",
    "medium_max_silence_minutes": "5",
    "low_escalate_after_seconds": "600",
    "low_max_silence_minutes": "15",
    "reason": "ward policy review",
}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def raise_high_alert(ward, seconds_ago: int) -> Alert:
    bed = ward.beds.get(code="icu1-bed02")
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    alert, _ = alerts.raise_alert(
        bed,
        patient,
        alerts.Condition("news2", "high", "NEWS2 7 (high)"),
        now=timezone.now() - timedelta(seconds=seconds_ago),
    )
    return alert


def test_admin_change_applies_and_is_logged(ward, admin_user):
    response = client_for(admin_user).post(URL, VALID)
    assert response.status_code == 302
    assert alerts.thresholds()["high"] == {
        "escalate_after_seconds": 30,
        "max_silence_minutes": 1,
    }
    change = ChangeLog.objects.get(kind="alert_thresholds")
    assert change.user == admin_user
    assert change.new_value["high"]["escalate_after_seconds"] == 30
    assert change.old_value["high"]["escalate_after_seconds"] == 60
    assert change.reason == "ward policy review"


def test_new_escalation_time_used(ward, admin_user):
    alert = raise_high_alert(ward, seconds_ago=45)
    assert alerts.escalate_overdue() == []
    client_for(admin_user).post(URL, VALID)
    assert [a.pk for a in alerts.escalate_overdue()] == [alert.pk]


def test_new_silence_limit_used(ward, admin_user, nurse):
    alert = raise_high_alert(ward, seconds_ago=0)
    client_for(admin_user).post(URL, VALID)
    with pytest.raises(alerts.AlertError, match="1 to 1 minutes"):
        alerts.silence(alert, nurse, 2)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("high_max_silence_minutes", "6", "expected 1 to 5 min"),
        ("high_escalate_after_seconds", "301", "expected 10 to 300 s"),
        ("low_escalate_after_seconds", "5", "expected 10 to 7200 s"),
        ("medium_max_silence_minutes", "ten", "expected a whole number"),
        ("reason", "", "a reason for the change is required"),
    ],
)
def test_bad_threshold_rejected(ward, admin_user, field, value, words):
    response = client_for(admin_user).post(URL, {**VALID, field: value})
    assert response.status_code == 400
    line = next(line for line in response.context["errors"] if field in line)
    assert f"{field}={value!r} is invalid" in line
    assert words in line
    assert not AlertThreshold.objects.exists()
    assert not ChangeLog.objects.exists()


@pytest.mark.parametrize("role_fixture", ["nurse", "auditor"])
def test_only_admin_changes_thresholds(request, ward, role_fixture):
    user = request.getfixturevalue(role_fixture)
    response = client_for(user).post(URL, VALID)
    assert response.status_code == 403
    assert not AlertThreshold.objects.exists()
