"""Inputs that would reach the parser or PostgreSQL unchecked without their
own guard: each must get a 4xx naming the field and the value, and store
nothing."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from twins.models import DeviceToken, Observation
from twins.views import MAX_BODY_BYTES

pytestmark = pytest.mark.django_db


@pytest.fixture
def device_client(ward):
    _, token = DeviceToken.issue(name="monitor-bed01")
    return Client(headers={"authorization": f"Bearer {token}"})


def reading(**changes) -> dict:
    base = {
        "bed": "icu1-bed01",
        "device": "monitor-bed01",
        "timestamp": timezone.now().isoformat(),
        "parameter": "heart_rate",
        "value": 72,
        "unit": "/min",
    }
    return {**base, **changes}


def post(client, body):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(
        "/api/v1/observations", data=data, content_type="application/json"
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"value": 10**400}, "value", "too large"),
        ({"timestamp": "2026-02-30T10:00:00Z"}, "timestamp", "invalid timestamp"),
        ({"timestamp": "2026-01-01T25:00:00Z"}, "timestamp", "invalid timestamp"),
        ({"timestamp": "2026-01-01T10:00:00+99:00"}, "timestamp", "invalid timestamp"),
        ({"timestamp": "0001-01-01T00:00:00Z"}, "timestamp", "days old"),
        # A callable value is read when the test runs, not when the module is
        # collected, or a slow suite would post a time no longer in the future.
        (
            {"timestamp": lambda: timezone.now() + timezone.timedelta(minutes=1)},
            "timestamp",
            "ahead of the server clock",
        ),
        ({"bed": "icu1-bed01\t"}, "bed", "printable"),
        ({"device": "monitor\u200b"}, "device", "printable"),
        (
            {"parameter": "consciousness", "value": 2.7, "unit": "{ACVPU}"},
            "value",
            "invalid consciousness code",
        ),
        (
            {"parameter": "supplemental_oxygen", "value": 0.3, "unit": "{yes/no}"},
            "value",
            "invalid supplemental_oxygen code",
        ),
    ],
)
def test_bad_reading_rejected(device_client, changes, field, message):
    changes = {
        name: value().isoformat() if callable(value) else value
        for name, value in changes.items()
    }
    response = post(device_client, {"readings": [reading(**changes)]})
    assert response.status_code == 400
    [error] = [e for e in response.json()["errors"] if e["field"] == field]
    assert message in error["message"]
    assert not Observation.objects.exists()


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_value_echoed_as_text(device_client, text):
    body = json.dumps({"readings": [reading(value=0)]}).replace(
        '"value": 0', f'"value": {text}'
    )
    response = post(device_client, body)
    assert response.status_code == 400
    json.loads(response.content)  # strict JSON: no bare NaN
    assert response.json()["errors"][0]["value"] == str(float(text))
    assert not Observation.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ('{"readings": [{"bed": "icu1\\u0000bed01"}]}', 400, "NUL"),
        ("[" * 100_000, 400, "invalid JSON"),
        (b"x" * (MAX_BODY_BYTES + 1), 413, "body over"),
        (b"x" * (3 * 1024 * 1024), 413, "body over"),
    ],
)
def test_bad_body_rejected(device_client, body, status, message):
    response = post(device_client, body)
    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    assert message in error["message"]
    assert not Observation.objects.exists()


def test_fhir_nul_rejected(device_client):
    response = device_client.post(
        "/fhir/Observation",
        data='{"resourceType": "Observation", "id": "a\\u0000"}',
        content_type="application/fhir+json",
    )
    assert response.status_code == 400
    assert "NUL" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        (
            "/scheduler/placements/?since=2026-02-30T10:00:00Z",
            "since=&#x27;2026-02-30T10:00:00Z&#x27; is invalid",
        ),
        ("/scheduler/placements/?run=%C2%B2", "run=&#x27;²&#x27; is invalid"),
        ("/scheduler/placements/?ward=%00", "invalid ward: NUL characters"),
        ("/scheduler/charts/?ward=%00", "invalid ward: NUL characters"),
        ("/scheduler/runs/1/placements/%00", "invalid path: NUL characters"),
    ],
)
def test_auditor_filters_rejected_cleanly(client, auditor, url, named):
    client.force_login(auditor)
    response = client.get(url)
    assert response.status_code == 400
    assert named in response.content.decode()
