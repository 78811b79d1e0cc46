"""Ingestion through POST /api/v1/observations: storage, twin update, rejections."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from twins.models import DeviceToken, Observation, TwinState

URL = "/api/v1/observations"


@pytest.fixture
def token(db):
    _, plain = DeviceToken.issue("monitor-bed01")
    return plain


def post(client, token, body):
    return client.post(
        URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def reading(**overrides):
    base = {
        "bed": "icu1-bed01",
        "device": "monitor-bed01",
        "timestamp": timezone.now().replace(microsecond=0).isoformat(),
        "parameter": "heart_rate",
        "value": 72,
        "unit": "/min",
    }
    base.update(overrides)
    return base


@pytest.mark.django_db
def test_ingest_stores_and_updates_twin(client, ward, token):
    response = post(
        client,
        token,
        {"readings": [reading(), reading(parameter="spo2", value=97, unit="%")]},
    )
    assert response.status_code == 201, response.content
    assert response.json()["stored"] == 2
    twin = TwinState.objects.get(bed__code="icu1-bed01")
    assert twin.latest["heart_rate"]["value"] == 72
    assert twin.latest["spo2"]["value"] == 97
    assert twin.news2["partial"] is True
    assert twin.news2["scores"]["pulse"] == 0
    assert twin.sequence == 1


@pytest.mark.django_db
def test_ingest_same_reading_twice_stored_once(client, ward, token):
    body = {"readings": [reading()]}
    assert post(client, token, body).status_code == 201
    second = post(client, token, body)
    assert second.status_code == 201
    assert second.json()["duplicates"] == 1
    assert Observation.objects.count() == 1


@pytest.mark.django_db
def test_ingest_older_reading_does_not_move_latest_back(client, ward, token):
    now = timezone.now().replace(microsecond=0)
    post(client, token, {"readings": [reading(value=80, timestamp=now.isoformat())]})
    older = (now - timedelta(seconds=10)).isoformat()
    post(client, token, {"readings": [reading(value=60, timestamp=older)]})
    twin = TwinState.objects.get(bed__code="icu1-bed01")
    assert twin.latest["heart_rate"]["value"] == 80
    assert Observation.objects.count() == 2


@pytest.mark.django_db
def test_ingest_implausible_value_stored_and_flagged(client, ward, token):
    response = post(
        client, token, {"readings": [reading(parameter="resp_rate", value=0)]}
    )
    assert response.status_code == 201
    stored = Observation.objects.get()
    assert stored.flagged is True
    assert "plausible" in stored.flag_reason
    twin = TwinState.objects.get(bed__code="icu1-bed01")
    assert "resp_rate" not in twin.news2["scores"]


@pytest.mark.django_db
def test_ingest_fahrenheit_converted_to_celsius(client, ward, token):
    response = post(
        client,
        token,
        {"readings": [reading(parameter="temperature", value=98.6, unit="[degF]")]},
    )
    assert response.status_code == 201
    assert Observation.objects.get().value == pytest.approx(37.0)
    assert Observation.objects.get().unit == "Cel"


REJECTIONS = [
    ("missing field", {"drop": "value"}, "value", "missing field value"),
    ("wrong unit", {"unit": "bpm"}, "unit", "invalid unit for heart_rate"),
    ("impossible value", {"parameter": "spo2", "value": 101, "unit": "%"}, "value",
     "impossible spo2"),
    ("negative rate", {"value": -5}, "value", "impossible heart_rate"),
    ("unknown bed", {"bed": "icu9-bed99"}, "bed", "unknown bed"),
    ("unknown parameter", {"parameter": "glucose"}, "parameter", "unknown parameter"),
    ("text value", {"value": "72"}, "value", "must be a number"),
    ("naive timestamp", {"timestamp": "2026-01-01T10:00:00"}, "timestamp",
     "no time zone"),
    ("bad timestamp", {"timestamp": "yesterday"}, "timestamp", "invalid timestamp"),
    ("future timestamp", {"future": True}, "timestamp", "ahead of the server clock"),
    ("unknown patient", {"drop": "bed", "patient": "PT-NOBODY"}, "patient",
     "unknown patient"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "change", "field", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_ingest_rejects_invalid_reading(
    client, ward, token, case, change, field, message
):
    good = reading(parameter="spo2", value=96, unit="%", device="other-device")
    post(client, token, {"readings": [good]})
    bad = reading()
    change = dict(change)
    if change.pop("future", False):
        bad["timestamp"] = (timezone.now() + timedelta(hours=1)).isoformat()
    dropped = change.pop("drop", None)
    if dropped:
        bad.pop(dropped)
    bad.update(change)

    response = post(client, token, {"readings": [reading(value=75), bad]})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0]["index"] == 1
    assert errors[0]["field"] == field
    assert message in errors[0]["message"]
    if field in bad:
        assert errors[0]["value"] == bad[field]
    # Nothing of the rejected batch is stored and what was there stays.
    assert Observation.objects.count() == 1
    assert Observation.objects.get().parameter == "spo2"
    assert TwinState.objects.get(bed__code="icu1-bed01").latest["spo2"]["value"] == 96


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ({"items": []}, "readings"),
        ({"readings": []}, "readings"),
        ({"readings": ["text"]}, "reading"),
    ],
)
def test_ingest_rejects_malformed_body(client, ward, token, body, field):
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post(
        URL, data=data, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert Observation.objects.count() == 0


@pytest.mark.django_db
def test_ingest_requires_device_token(client, ward):
    response = client.post(
        URL, data=json.dumps({"readings": [reading()]}), content_type="application/json"
    )
    assert response.status_code == 401
    assert Observation.objects.count() == 0


@pytest.mark.django_db
def test_ingest_rejects_revoked_token(client, ward, token):
    DeviceToken.objects.update(revoked_at=timezone.now())
    response = post(client, token, {"readings": [reading()]})
    assert response.status_code == 401
    assert "revoked" in response.json()["errors"][0]["message"]


@pytest.mark.django_db
def test_device_token_stored_hashed(token):
    row = DeviceToken.objects.get()
    assert token not in row.token_hash
    assert DeviceToken.authenticate(token) == row
