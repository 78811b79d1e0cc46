"""POST /api/v1/beds/<bed>/ecg: compact storage, alignment, asystole alerts."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import wfdb
from django.utils import timezone

from tests.twins.conftest import BED
from twins.models import Alert, DeviceToken, EcgChunk

pytestmark = pytest.mark.django_db

URL = f"/api/v1/beds/{BED}/ecg"
DATA = Path(__file__).resolve().parent.parent / "data"
# MIT-BIH record 100, first 10 s; the false asystole alarm of Challenge 2015
# record a103l came at 300 s.
MITDB_100 = str(DATA / "mitdb" / "100")
A103L = str(DATA / "challenge2015" / "a103l")


@pytest.fixture
def token(db):
    return DeviceToken.issue("monitor-bed01")[1]


@pytest.fixture(scope="module")
def record_100():
    return wfdb.rdrecord(MITDB_100, sampto=3600)


@pytest.fixture(scope="module")
def a103l_window():
    record = wfdb.rdrecord(A103L)
    fs = int(record.fs)
    return record.p_signal[(300 - 16) * fs : 300 * fs], fs


def start_iso(seconds_ago=60):
    return (timezone.now() - timedelta(seconds=seconds_ago)).isoformat()


def post(client, token, body):
    return client.post(
        URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def chunk_body(samples, fs, leads=("MLII",), **extra):
    return {
        "device": "monitor-bed01",
        "start": extra.pop("start", start_iso()),
        "fs": fs,
        "leads": list(leads),
        "samples": np.round(samples, 3).tolist(),
        **extra,
    }


def test_ecg_chunk_stored_compactly(client, ward, token, record_100):
    signal = record_100.p_signal[:, 0]
    on_grid = timezone.now().replace(microsecond=0) - timedelta(seconds=60)
    body = chunk_body(signal, record_100.fs, start=on_grid.isoformat())
    response = post(client, token, body)
    assert response.status_code == 201, response.content
    body = response.json()
    row = EcgChunk.objects.get()
    assert EcgChunk.objects.count() == 1
    assert row.fs == 250
    assert abs(row.samples - 2500) <= 1  # 10 s at 250 Hz
    assert len(bytes(row.data)) == row.samples * 2
    # Record 100 is a sinus rhythm of about 75 /min in its first 10 s.
    assert 60 <= body["heart_rate_per_min"] <= 90
    assert body["beats"] >= 10
    assert row.start_at == on_grid
    decoded = row.millivolts()[:, 0]
    sent = np.round(signal, 3)
    expected = np.interp(
        np.arange(row.samples) / 250, np.arange(len(sent)) / 360, sent - np.median(sent)
    )
    # 5 uV counts and the anti-alias filter leave errors of tens of uV; a wrong
    # scale, offset or grid would give tenths of a mV on the QRS slopes.
    assert np.abs(decoded - expected).max() < 0.05


def test_ecg_chunk_start_on_grid(client, ward, token, record_100):
    start = datetime(2026, 12, 4, 10, 0, 0, 1001, tzinfo=UTC)
    signal = record_100.p_signal[:720, 0]
    post(client, token, chunk_body(signal, record_100.fs, start=start.isoformat()))
    row = EcgChunk.objects.get()
    # The first 4 ms grid point at or after 10:00:00.001001.
    assert row.start_at == datetime(2026, 12, 4, 10, 0, 0, 4000, tzinfo=UTC)


def test_ecg_chunk_sent_twice_stored_once(client, ward, token, record_100):
    body = chunk_body(record_100.p_signal[:720, 0], record_100.fs)
    assert post(client, token, body).status_code == 201
    second = post(client, token, body)
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert EcgChunk.objects.count() == 1


def test_ecg_noisy_leads_with_pulse_no_asystole(client, ward, token, a103l_window):
    window, fs = a103l_window
    body = chunk_body(window[:, :2], fs, leads=("II", "V"), pleth=window[:, 2].tolist())
    response = post(client, token, body)
    assert response.status_code == 201, response.content
    assert response.json()["asystole"] is False
    assert Alert.objects.filter(kind="asystole").count() == 0


def test_ecg_flat_line_raises_then_clears_asystole(client, ward, token, record_100):
    flat = np.zeros(10 * 360)
    response = post(client, token, chunk_body(flat, 360, start=start_iso(30)))
    assert response.json()["asystole"] is True
    alert = Alert.objects.get(kind="asystole")
    assert alert.priority == "high"
    assert alert.state == "active"
    post(client, token, chunk_body(record_100.p_signal[:, 0], 360, start=start_iso(20)))
    alert.refresh_from_db()
    assert alert.state == "resolved"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"device": ""}, "device"),
        ({"start": "2026-12-04T10:00:00"}, "start"),
        ({"fs": 50}, "fs"),
        ({"fs": "360"}, "fs"),
        ({"leads": []}, "leads"),
        ({"leads": ["I", "II"]}, "samples"),
        ({"samples": [0.1] * 100}, "samples"),
        ({"samples": [[0.1, "x"]] * 720}, "samples"),
        ({"samples": [50.0] * 720}, "samples"),
        ({"pleth": [1.0] * 3}, "pleth"),
    ],
)
def test_ecg_bad_chunk_rejected(client, ward, token, record_100, change, field):
    body = chunk_body(record_100.p_signal[:720, 0], 360)
    body.update(change)
    response = post(client, token, body)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert error["message"]
    assert EcgChunk.objects.count() == 0


def test_ecg_future_start_rejected(client, ward, token, record_100):
    ahead = (timezone.now() + timedelta(hours=1)).isoformat()
    body = chunk_body(record_100.p_signal[:720, 0], 360, start=ahead)
    response = post(client, token, body)
    assert response.status_code == 400
    assert "ahead of the server" in response.json()["errors"][0]["message"]


def test_ecg_needs_device_token(client, ward, nurse, record_100):
    client.force_login(nurse)
    body = json.dumps(chunk_body(record_100.p_signal[:720, 0], 360))
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 401
    revoked, plain = DeviceToken.issue("old-monitor")
    revoked.revoked_at = timezone.now()
    revoked.save()
    assert post(client, plain, json.loads(body)).status_code == 401
    assert EcgChunk.objects.count() == 0


def test_ecg_unknown_bed_404(client, ward, token):
    response = client.post(
        "/api/v1/beds/nowhere/ecg",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 404
