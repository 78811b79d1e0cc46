"""Replaying real BIDMC records gives the alerts their NEWS2 bands call for.

The test works out the expected sequence from the raw record. First it
scores the NEWS2 band of each second with ``twins.news2``, which the
reference table tests check. Then it applies the alert rules: raise when the
band calls for an alert, replace at once on a higher priority, and resolve
or lower only after the condition has held for the clear hold.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from twins import alerts, news2
from twins.models import Alert, AlertAction
from twins.replay import DATA_DIR, Replay, load_record
from twins.vitals import PARAMETERS

pytestmark = pytest.mark.django_db

# bidmc_01 has a red respiration score for its first half minute; bidmc_08
# flickers between NEWS2 medium and low all through.
RECORDS = {"icu1-bed01": "bidmc_01", "icu1-bed02": "bidmc_08"}
PRIORITY = {"high": "high", "medium": "medium", "low-medium": "medium"}
RANK = {"high": 0, "medium": 1}


def bands_per_second(record):
    latest, bands = {}, []
    for row in record.rows:
        for parameter, value in row.items():
            low, high = PARAMETERS[parameter].plausible
            latest[parameter] = value if low <= value <= high else None
        pulse = latest.get("heart_rate")
        if pulse is None:
            pulse = latest.get("pulse_rate")
        inputs = news2.News2Inputs(
            resp_rate=latest.get("resp_rate"), spo2=latest.get("spo2"), pulse=pulse
        )
        bands.append(news2.score(inputs).band)
    return bands


def expected_actions(bands, hold_seconds):
    actions, current, clear_since = [], None, None
    for second, band in enumerate(bands):
        wanted = PRIORITY.get(band)
        lower = current is not None and (wanted is None or RANK[wanted] > RANK[current])
        if lower:
            clear_since = second if clear_since is None else clear_since
            if second - clear_since < hold_seconds:
                continue
            actions.append(("resolve", current))
            current, clear_since = None, None
        else:
            clear_since = None
        if wanted is not None and wanted != current:
            if current is not None:
                actions.append(("resolve", current))
            actions.append(("raise", wanted))
            current = wanted
    return actions


def test_replay_real_records_alert_sequence(ward):
    records = [
        load_record(DATA_DIR / f"{name}_Numerics.csv") for name in RECORDS.values()
    ]
    seconds = min(len(record.rows) for record in records)
    end = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    Replay(list(RECORDS), records).backfill(seconds, end)

    hold = alerts.CLEAR_HOLD_SECONDS["news2"]
    for bed, record in zip(RECORDS, records, strict=True):
        expected = expected_actions(bands_per_second(record)[:seconds], hold)
        rows = AlertAction.objects.filter(alert__bed__code=bed, alert__kind="news2")
        stored = [
            (row.action, row.alert.priority)
            for row in rows.select_related("alert").order_by("at", "pk")
        ]
        assert stored == expected, bed
    # A flickering band is one alert, not one per crossing.
    assert Alert.objects.filter(bed__code="icu1-bed02").count() == 1
