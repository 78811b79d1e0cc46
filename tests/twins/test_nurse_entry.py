"""Nurse-entered observations and the audited SpO2 scale decision."""

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.twins.conftest import BED
from twins import alerts
from twins.ingest import ScaleDecisionError, decide_spo2_scale
from twins.models import Alert, Observation, Patient, Spo2ScaleDecision, TwinState

pytestmark = pytest.mark.django_db

URL = f"/beds/{BED}/observations/"
SCALE_URL = f"/beds/{BED}/spo2-scale/"


def post_as(client, user, data, url=URL):
    client.force_login(user)
    return client.post(url, data)


def errors_of(response):
    return response.context["errors"]


def test_entry_stores_readings_attributed(client, ward, nurse):
    response = post_as(
        client,
        nurse,
        {
            "consciousness": "V",
            "supplemental_oxygen": "oxygen",
            "temperature": "38,4",
            "systolic_bp": "105",
            "diastolic_bp": "60",
        },
    )
    assert response.status_code == 302, response.content
    rows = {row.parameter: row for row in Observation.objects.all()}
    assert set(rows) == {
        "consciousness",
        "supplemental_oxygen",
        "temperature",
        "systolic_bp",
        "diastolic_bp",
    }
    for row in rows.values():
        assert row.entered_by == nurse
        assert row.source == "nurse"
        assert row.device == f"nurse:{nurse.username}"
    assert rows["temperature"].value == pytest.approx(38.4)
    assert rows["consciousness"].value == 2  # V is index 2 of ACVPU
    scores = TwinState.objects.get(bed__code=BED).news2["scores"]
    # RCP NEWS2 Chart 1: V scores 3, oxygen 2, 38.4 C 1, 105 mmHg 1.
    assert scores["consciousness"] == 3
    assert scores["air_or_oxygen"] == 2
    assert scores["temperature"] == 1
    assert scores["systolic_bp"] == 1


def test_entry_time_in_hospital_zone_stored_utc(client, ward, nurse, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    local = (timezone.now() - timedelta(hours=2)).astimezone(berlin)
    local = local.replace(second=0, microsecond=0)
    post_as(
        client,
        nurse,
        {"observed_at": local.strftime("%Y-%m-%dT%H:%M"), "temperature": "37"},
    )
    row = Observation.objects.get()
    assert row.observed_at == local.astimezone(UTC)
    assert row.observed_at.utcoffset() == timedelta(0)


def test_entry_form_page_shown(client, ward, nurse):
    client.force_login(nurse)
    response = client.get(URL)
    assert response.status_code == 200
    assert b"Consciousness (ACVPU)" in response.content


@pytest.mark.parametrize(
    ("data", "field", "value", "words"),
    [
        ({"temperature": "warm"}, "temperature", "warm", "a number in Cel"),
        ({"temperature": "60"}, "temperature", 60.0, "must be from 10 to 50"),
        ({"systolic_bp": "-5"}, "systolic_bp", -5.0, "must be from 0 to 350"),
        ({"consciousness": "X"}, "consciousness", "X", "A, C, V, P, U"),
        ({"supplemental_oxygen": "mask"}, "supplemental_oxygen", "mask", "air or"),
        ({}, "form", None, "nothing entered"),
        (
            {"observed_at": "yesterday", "temperature": "37"},
            "observed_at",
            "yesterday",
            "invalid time",
        ),
    ],
)
def test_entry_bad_input_rejected(client, ward, nurse, data, field, value, words):
    response = post_as(client, nurse, data)
    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["field"] == field
    assert error["value"] == value
    assert words in error["message"]
    assert Observation.objects.count() == 0


def test_entry_future_time_rejected(client, ward, nurse, settings):
    settings.TIME_ZONE = "UTC"
    ahead = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = post_as(client, nurse, {"observed_at": ahead, "temperature": "37"})
    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["field"] == "observed_at"
    assert "ahead of the server clock" in error["message"]
    assert Observation.objects.count() == 0


def test_entry_unassigned_nurse_forbidden(client, ward, other_nurse):
    response = post_as(client, other_nurse, {"temperature": "37"})
    assert response.status_code == 403
    assert Observation.objects.count() == 0


@pytest.mark.parametrize("fixture", ["auditor", "no_role_user"])
def test_entry_other_roles_forbidden(client, ward, request, fixture):
    response = post_as(client, request.getfixturevalue(fixture), {"temperature": "37"})
    assert response.status_code == 403
    assert Observation.objects.count() == 0


def test_entry_anonymous_sent_to_login(client, ward):
    response = client.post(URL, {"temperature": "37"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert Observation.objects.count() == 0


def test_entry_unknown_bed_404(client, ward, nurse):
    response = post_as(
        client, nurse, {"temperature": "37"}, "/beds/nowhere/observations/"
    )
    assert response.status_code == 404


def test_entry_admin_rejected(client, ward, admin_user):
    response = post_as(client, admin_user, {"temperature": "37"})
    assert response.status_code == 403
    assert not Observation.objects.exists()


def test_spo2_scale_admin_rejected(client, ward, admin_user):
    response = post_as(
        client,
        admin_user,
        {"scale": "2", "reason": "hypercapnic respiratory failure"},
        "/beds/icu1-bed01/spo2-scale/",
    )
    assert response.status_code == 403
    assert Patient.objects.get(bed__code="icu1-bed01").spo2_scale == 1


def test_spo2_scale_decision_audited_and_rescored(client, ward, nurse, send_vitals):
    send_vitals(spo2=88, supplemental_oxygen=0)
    twin = TwinState.objects.get(bed__code=BED)
    assert twin.news2["scores"]["spo2"] == 3  # scale 1: 91 or less
    response = post_as(
        client,
        nurse,
        {"scale": "2", "reason": "Hypercapnic COPD; target 88-92 % per Dr A"},
        SCALE_URL,
    )
    assert response.status_code == 302, response.content
    decision = Spo2ScaleDecision.objects.get()
    assert decision.decided_by == nurse
    assert decision.previous_scale == 1
    assert decision.scale == 2
    assert "target 88-92" in decision.reason
    assert (
        Patient.objects.get(bed__code=BED, discharged_at__isnull=True).spo2_scale == 2
    )
    twin.refresh_from_db()
    assert twin.news2["scores"]["spo2"] == 0  # scale 2: 88-92 scores 0
    # The red SpO2 score was the only reason for the alert, which resolves
    # once the score has stayed low for the clear hold.
    alert = Alert.objects.get()
    assert alert.clear_since is not None
    hold = timedelta(seconds=alerts.CLEAR_HOLD_SECONDS["news2"])
    alerts.update_news2_alert(alert.bed, None, twin.news2, now=alert.clear_since + hold)
    alert.refresh_from_db()
    assert alert.state == "resolved"


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"scale": "3", "reason": "prescribed target 88-92 %"}, "scale", "1 or 2"),
        ({"scale": "2", "reason": "copd"}, "reason", "10 to 500"),
        ({"scale": "2"}, "reason", "is required"),
        ({"scale": "1", "reason": "prescribed target 94-98 %"}, "scale", "already"),
    ],
)
def test_spo2_scale_bad_input_rejected(client, ward, nurse, data, field, words):
    response = post_as(client, nurse, data, SCALE_URL)
    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["field"] == field
    assert words in error["message"]
    assert Spo2ScaleDecision.objects.count() == 0
    assert (
        Patient.objects.get(bed__code=BED, discharged_at__isnull=True).spo2_scale == 1
    )


def test_spo2_scale_unassigned_nurse_forbidden(client, ward, other_nurse):
    data = {"scale": "2", "reason": "prescribed target 88-92 %"}
    response = post_as(client, other_nurse, data, SCALE_URL)
    assert response.status_code == 403
    assert Spo2ScaleDecision.objects.count() == 0


def test_spo2_scale_discharged_patient_rejected(ward, nurse):
    patient = Patient.objects.get(bed__code=BED, discharged_at__isnull=True)
    patient.discharged_at = timezone.now()
    patient.save()
    with pytest.raises(ScaleDecisionError) as error:
        decide_spo2_scale(patient, 2, "prescribed target 88-92 %", nurse)
    assert error.value.field == "patient"
    assert Spo2ScaleDecision.objects.count() == 0
