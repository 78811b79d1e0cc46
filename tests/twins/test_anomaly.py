"""Artefact and sustained-change detection on real 1 Hz numerics.

Artefacts and changes are injected into a real BIDMC record on which the
detectors find nothing, so each test knows where the truth lies.
"""

import numpy as np
import pytest

from twins import anomaly
from twins.numerics import BIDMC_DIR, read_bidmc


@pytest.fixture
def clean():
    frame = read_bidmc(BIDMC_DIR / "bidmc_02_Numerics.csv")
    assert anomaly.detect_anomalies(frame) == []
    return frame


def kinds_at(events, kind, parameter, second):
    return [
        event
        for event in events
        if event.kind == kind
        and event.parameter == parameter
        and event.start_seconds <= second <= event.end_seconds
    ]


def test_spike_found(clean):
    clean.loc[200.0, "heart_rate"] += 60
    events = anomaly.detect_artefacts(clean)
    assert kinds_at(events, "spike", "heart_rate", 200)
    assert len(events) == 1


def test_dropout_zeros_and_gaps_found(clean):
    clean.loc[300.0:309.0, "spo2"] = 0
    clean.loc[400.0:404.0, "resp_rate"] = np.nan
    events = anomaly.detect_artefacts(clean)
    dropout = kinds_at(events, "dropout", "spo2", 305)
    assert dropout
    assert (dropout[0].start_seconds, dropout[0].end_seconds) == (300.0, 309.0)
    assert kinds_at(events, "dropout", "resp_rate", 402)


def test_implausible_value_found(clean):
    clean.loc[250.0:252.0, "spo2"] = 36
    events = anomaly.detect_artefacts(clean)
    assert kinds_at(events, "implausible", "spo2", 251)


def test_flat_line_found_only_when_long(clean):
    clean.loc[100.0:289.0, "heart_rate"] = 88
    clean.loc[300.0:400.0, "pulse_rate"] = 77
    events = anomaly.detect_artefacts(clean)
    assert kinds_at(events, "flat-line", "heart_rate", 200)
    assert not kinds_at(events, "flat-line", "pulse_rate", 350)


def test_heart_rate_pulse_disagreement(clean):
    clean.loc[200.0:259.0, "pulse_rate"] += 30
    clean.loc[350.0:354.0, "pulse_rate"] += 30
    events = anomaly.detect_artefacts(clean)
    assert kinds_at(events, "disagreement", "heart_rate/pulse_rate", 230)
    # Five seconds apart is shorter than the minimum duration.
    assert not kinds_at(events, "disagreement", "heart_rate/pulse_rate", 352)


def test_sustained_change_found_after_onset(clean):
    # A real rise in heart rate shows in both the ECG and the pleth rate.
    clean.loc[300.0:, ["heart_rate", "pulse_rate"]] += 25
    changes = anomaly.detect_changes(clean)
    assert sorted(e.parameter for e in changes) == ["heart_rate", "pulse_rate"]
    for change in changes:
        assert 300 <= change.start_seconds <= 360
        assert "+2" in change.detail


def test_change_in_one_rate_only_is_disagreement(clean):
    clean.loc[300.0:, "heart_rate"] += 25
    events = anomaly.detect_anomalies(clean)
    assert kinds_at(events, "disagreement", "heart_rate/pulse_rate", 400)
    assert not [e for e in events if e.kind == "change"]


def test_artefact_is_not_a_change(clean):
    clean.loc[300.0:340.0, "spo2"] = 0
    events = anomaly.detect_anomalies(clean)
    assert {event.kind for event in events} == {"dropout"}


def test_per_minute_period(clean):
    minutes = clean.iloc[::60].copy()
    minutes.iloc[4, minutes.columns.get_loc("pulse_rate")] = 277
    events = anomaly.detect_artefacts(minutes, period=60.0)
    assert kinds_at(events, "implausible", "pulse_rate", minutes.index[4])
