"""Trend history: window validation, downsampling, time zone, gaps, NEWS2."""

from datetime import UTC, datetime, timedelta

import pytest

from twins.history import (
    FULL_RESOLUTION_SECONDS,
    MAX_BUCKETS,
    HistoryError,
    Window,
    bed_history,
)
from twins.models import Bed, Observation, Patient

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


def readings(bed, parameter, values, start, step_seconds=1, flagged=()):
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    Observation.objects.bulk_create(
        Observation(
            bed=bed,
            patient=patient,
            device="test-monitor",
            parameter=parameter,
            value=value,
            unit="/min",
            observed_at=start + timedelta(seconds=index * step_seconds),
            source="device",
            flagged=index in flagged,
        )
        for index, value in enumerate(values)
    )


@pytest.mark.parametrize("raw", ["2h", "", None, "1H", 3600])
def test_window_invalid_named(raw):
    with pytest.raises(HistoryError) as caught:
        Window.parse(raw)
    assert caught.value.field == "window"
    assert caught.value.value == raw
    assert "1h, 6h, 24h" in caught.value.message


@pytest.mark.parametrize(("name", "bucket"), [("1h", 6), ("6h", 36), ("24h", 144)])
def test_window_bucket_width(name, bucket):
    window = Window.parse(name)
    assert window.bucket_seconds == bucket
    assert (window.seconds - FULL_RESOLUTION_SECONDS) / bucket <= MAX_BUCKETS


def test_history_day_downsampled_keeps_spike(ward):
    bed = Bed.objects.get(code="icu1-bed01")
    start = NOW - timedelta(hours=24)
    values = [80.0] * 86_400
    spike_index = 40_000
    values[spike_index] = 181.0
    values[spike_index + 7] = 31.0
    readings(bed, "heart_rate", values, start)

    history = bed_history(bed, Window.parse("24h"), now=NOW)
    series = history["vitals"]["heart_rate"]
    points = [value for value in series["v"] if value is not None]

    assert 181.0 in points
    assert 31.0 in points
    assert len(series["t"]) <= 2 * MAX_BUCKETS + FULL_RESOLUTION_SECONDS + 2
    assert history["bucket_seconds"] == 144


def test_history_tail_full_resolution(ward):
    bed = Bed.objects.get(code="icu1-bed02")
    start = NOW - timedelta(minutes=30)
    values = [60.0 + (index % 7) for index in range(1800)]
    readings(bed, "heart_rate", values, start)

    history = bed_history(bed, Window.parse("6h"), now=NOW)
    series = history["vitals"]["heart_rate"]
    tail_from = history["full_resolution_from"]
    tail = [t for t in series["t"] if t is not None and t >= tail_from]

    assert len(tail) >= FULL_RESOLUTION_SECONDS
    assert len(tail) == len(set(tail))
    assert tail[-1] == "2026-12-04T11:59:59"


def test_history_times_in_hospital_zone(ward, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    bed = Bed.objects.get(code="icu1-bed03")
    readings(bed, "resp_rate", [18.0, 19.0], NOW - timedelta(seconds=10))

    history = bed_history(bed, Window.parse("1h"), now=NOW)

    assert history["vitals"]["resp_rate"]["t"] == [
        "2026-12-04T12:59:50",
        "2026-12-04T12:59:51",
    ]
    assert history["end"] == "2026-12-04T13:00:00"
    assert history["time_zone"] == "Europe/Berlin"
    assert history["utc_offset_end"] == "+0100"


def test_history_gap_breaks_line(ward, settings):
    settings.SIGNAL_LOST_SECONDS = 30
    bed = Bed.objects.get(code="icu1-bed04")
    readings(bed, "spo2", [97.0] * 10, NOW - timedelta(seconds=200))
    readings(bed, "spo2", [95.0] * 10, NOW - timedelta(seconds=100))

    series = bed_history(bed, Window.parse("1h"), now=NOW)["vitals"]["spo2"]

    assert series["t"].count(None) == 1
    gap = series["t"].index(None)
    assert series["v"][gap] is None
    assert series["v"][gap - 1] == 97.0
    assert series["v"][gap + 1] == 95.0


def test_history_flagged_drawn_apart(ward):
    bed = Bed.objects.get(code="icu1-bed05")
    readings(
        bed, "resp_rate", [16.0, 0.0, 17.0], NOW - timedelta(seconds=5), flagged={1}
    )

    series = bed_history(bed, Window.parse("1h"), now=NOW)["vitals"]["resp_rate"]

    assert series["v"] == [16.0, 17.0]
    assert series["flagged"]["v"] == [0.0]


def test_history_news2_contributions(ward):
    bed = Bed.objects.get(code="icu1-bed06")
    start = NOW - timedelta(minutes=20)
    readings(bed, "heart_rate", [80.0] * 600 + [137.0] * 600, start)
    readings(bed, "resp_rate", [16.0] * 900 + [27.0] * 300, start)

    news2 = bed_history(bed, Window.parse("1h"), now=NOW)["news2"]

    assert news2["aggregate"][0] == 0
    assert news2["aggregate"][-1] == 6
    assert news2["scores"]["pulse"][-1] == 3
    assert news2["scores"]["resp_rate"][-1] == 3
    assert news2["partial"][-1] is True
    assert max(news2["aggregate"]) == 6


def test_history_news2_flagged_newest_left_out(ward):
    bed = Bed.objects.get(code="icu1-bed07")
    readings(bed, "resp_rate", [27.0, 0.0], NOW - timedelta(seconds=20), 10, {1})

    news2 = bed_history(bed, Window.parse("1h"), now=NOW)["news2"]

    assert news2["scores"]["resp_rate"][0] == 3
    assert news2["scores"]["resp_rate"][-1] is None
    assert news2["aggregate"][-1] == 0


def test_history_previous_patient_excluded(ward):
    bed = Bed.objects.get(code="icu1-bed08")
    readings(bed, "heart_rate", [150.0] * 5, NOW - timedelta(minutes=10))
    previous = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    previous.discharged_at = NOW - timedelta(minutes=5)
    previous.save()
    Patient.objects.create(
        pseudonym="PT-NEW", bed=bed, admitted_at=previous.discharged_at
    )
    readings(bed, "heart_rate", [70.0] * 5, NOW - timedelta(minutes=2))

    series = bed_history(bed, Window.parse("1h"), now=NOW)["vitals"]["heart_rate"]

    assert set(series["v"]) == {70.0}
