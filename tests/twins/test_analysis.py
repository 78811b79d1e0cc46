"""Periodic twin analysis: forecasts, sustained-change and signal-lost alerts."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.twins.conftest import BED, reading
from twins import analysis, forecast
from twins.ingest import ingest
from twins.models import Alert, AlertState, Bed, TwinState
from twins.replay import Replay, available_records, load_record
from twins.tasks import (
    ANALYSE_IDLE_SECONDS,
    analyse_bed,
    analyse_twins,
    escalate_alerts,
)
from twins.vitals import Source

pytestmark = pytest.mark.django_db

CELERY_WAIT_SECONDS = 30


def bed():
    return Bed.objects.get(code=BED)


def open_alert(kind):
    return Alert.objects.filter(kind=kind).exclude(state=AlertState.RESOLVED).first()


def replay_first_record(seconds, end):
    Replay([BED], [load_record(available_records()[0])]).backfill(seconds, end)


def send_series(send_vitals, end, values, parameter="heart_rate"):
    """Ingest one value per second, the last at ``end``, in one batch."""
    batch = [
        reading(parameter, value, end - timedelta(seconds=len(values) - 1 - offset))
        for offset, value in enumerate(values)
    ]
    ingest(batch, Source.DEVICE)


def wobble(level, seconds):
    # A steady signal with a 1 /min wobble, so it is not a flat-line artefact.
    return [level + (0, 1, 2, 1)[second % 4] for second in range(seconds)]


def test_analysis_forecasts_only_shown_parameters(ward):
    end = timezone.now().replace(microsecond=0)
    replay_first_record(forecast.FIT_WINDOW_SECONDS + 20, end)
    predicted = analysis.analyse_bed(bed().pk, now=end)
    shown = {p for p in forecast.PARAMETERS if forecast.forecast_is_shown(p)}
    assert set(predicted) <= shown
    assert "spo2" not in shown or "spo2" in predicted
    for parameter, entry in predicted.items():
        assert entry["low"] <= entry["value"] <= entry["high"], parameter
        assert entry["horizon_seconds"] == forecast.HORIZON_SECONDS
    twin = TwinState.objects.get(bed__code=BED)
    assert twin.forecast == predicted
    last_hr = twin.latest["heart_rate"]["value"]
    assert abs(predicted["heart_rate"]["value"] - last_hr) < 15


def test_analysis_no_forecast_without_enough_data(ward, send_vitals):
    end = timezone.now().replace(microsecond=0)
    send_series(send_vitals, end, wobble(70, 30))
    assert analysis.analyse_bed(bed().pk, now=end) == {}


def test_analysis_sustained_change_raises_low_alert(ward, send_vitals):
    end = timezone.now().replace(microsecond=0)
    send_series(send_vitals, end, wobble(70, 200) + wobble(100, 60))
    analysis.analyse_bed(bed().pk, now=end)
    alert = open_alert("sustained_change")
    assert alert is not None
    assert alert.priority == "low"
    assert "heart_rate" in alert.message
    events = TwinState.objects.get(bed__code=BED).anomalies
    assert any(e["kind"] == "change" and e["ongoing"] for e in events)


def test_analysis_steady_signal_no_change_alert(ward, send_vitals):
    end = timezone.now().replace(microsecond=0)
    send_series(send_vitals, end, wobble(70, 260))
    analysis.analyse_bed(bed().pk, now=end)
    assert open_alert("sustained_change") is None


def test_signal_lost_raised_then_cleared(ward, send_vitals, settings):
    now = timezone.now().replace(microsecond=0)
    silent = settings.SIGNAL_LOST_SECONDS + 1
    send_vitals(at=now - timedelta(seconds=silent), heart_rate=70)
    analysis.analyse_bed(bed().pk, now=now)
    alert = open_alert("signal_lost")
    assert alert is not None
    assert alert.priority == "low"
    send_vitals(at=now, heart_rate=71)
    alert.refresh_from_db()
    assert alert.state == "resolved"


def test_signal_not_lost_within_limit(ward, send_vitals, settings):
    now = timezone.now().replace(microsecond=0)
    send_vitals(at=now - timedelta(seconds=settings.SIGNAL_LOST_SECONDS), heart_rate=70)
    analysis.analyse_bed(bed().pk, now=now)
    assert open_alert("signal_lost") is None


@pytest.mark.django_db(transaction=True)
def test_analyse_bed_task_on_worker(ward, celery_worker_process):
    replay_first_record(forecast.FIT_WINDOW_SECONDS + 20, timezone.now())
    bed_id = bed().pk
    analyse_bed.delay(bed_id)
    deadline = time.monotonic() + CELERY_WAIT_SECONDS
    while not TwinState.objects.get(bed_id=bed_id).forecast:
        assert time.monotonic() < deadline, "worker stored no forecast"
        time.sleep(0.2)
    assert "heart_rate" in TwinState.objects.get(bed_id=bed_id).forecast


def test_analyse_twins_queues_recent_beds(ward, send_vitals):
    send_vitals(heart_rate=70)
    send_vitals(bed="icu1-bed02", heart_rate=71)
    TwinState.objects.filter(bed__code="icu1-bed02").update(
        updated_at=timezone.now() - timedelta(seconds=ANALYSE_IDLE_SECONDS + 1)
    )
    assert analyse_twins() == 1


def test_escalate_alerts_task_escalates_overdue(ward, send_vitals, settings):
    limit = settings.ALERT_ESCALATE_AFTER_SECONDS["high"]
    old = timezone.now().replace(microsecond=0) - timedelta(seconds=limit + 5)
    send_vitals(at=old, heart_rate=135, resp_rate=25, spo2=91)
    assert escalate_alerts() == 1
    assert Alert.objects.get().state == "escalated"


def test_lasting_dropout_raises_signal_quality(ward, send_vitals):
    end = timezone.now().replace(microsecond=0)
    send_series(send_vitals, end, wobble(70, 200) + [0] * 15)
    analysis.analyse_bed(bed().pk, now=end + timedelta(seconds=1))
    alert = open_alert("signal_quality")
    assert alert is not None
    assert alert.priority == "low"
    assert "dropout of heart_rate" in alert.message


def test_short_dropout_no_signal_quality(ward, send_vitals):
    end = timezone.now().replace(microsecond=0)
    send_series(send_vitals, end, wobble(70, 200) + [0] * 3)
    analysis.analyse_bed(bed().pk, now=end)
    assert open_alert("signal_quality") is None


def test_reading_in_flight_not_dropout(ward, send_vitals):
    end = timezone.now().replace(microsecond=0)
    send_series(send_vitals, end, wobble(70, 200))
    # Analysed 20 s after the newest reading, before signal lost at 30 s.
    analysis.analyse_bed(bed().pk, now=end + timedelta(seconds=20))
    assert open_alert("signal_quality") is None
    assert open_alert("signal_lost") is None


def test_flat_line_raises_signal_quality(ward, send_vitals):
    end = timezone.now().replace(microsecond=0)
    send_series(send_vitals, end, [20] * 240, parameter="resp_rate")
    analysis.analyse_bed(bed().pk, now=end)
    alert = open_alert("signal_quality")
    assert alert is not None
    assert "flat-line of resp_rate" in alert.message


def test_time_before_first_reading_not_dropout(ward, send_vitals):
    end = timezone.now().replace(microsecond=0)
    send_series(send_vitals, end, wobble(70, 130))
    analysis.analyse_bed(bed().pk, now=end)
    events = TwinState.objects.get(bed__code=BED).anomalies
    assert [e for e in events if e["kind"] == "dropout"] == []
