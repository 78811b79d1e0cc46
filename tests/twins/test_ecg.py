"""Beat detection on MIT-BIH record 100 and asystole on Challenge 2015 a103l."""

from pathlib import Path

import numpy as np
import pytest
import wfdb

from twins import ecg

DATA = Path(__file__).resolve().parent.parent / "data"
MITDB_100 = str(DATA / "mitdb" / "100")
A103L = str(DATA / "challenge2015" / "a103l")
# The monitor raised its false asystole alarm at 300 s into a103l.
ALARM_SECONDS = 300


@pytest.fixture(scope="module")
def a103l():
    record = wfdb.rdrecord(A103L)
    assert record.sig_name == ["II", "V", "PLETH"]
    return record


def window(signals, fs, end_seconds, length_seconds=16):
    return signals[int((end_seconds - length_seconds) * fs) : int(end_seconds * fs)]


def test_beat_detection_record_100_meets_target():
    score = ecg.evaluate_beat_detection(MITDB_100)
    assert score.reference_beats == 2273
    assert score.sensitivity >= 0.99, score
    assert score.positive_predictivity >= 0.99, score
    assert score.true_positives + score.false_negatives == score.reference_beats


def test_a103l_no_asystole_around_false_alarm(a103l):
    start = ALARM_SECONDS - 30
    signals = a103l.p_signal[start * a103l.fs :]
    results = ecg.scan_asystole(signals, a103l.fs, [0, 1], 2)
    assert len(results) >= 40
    fired = [start + end for end, result in results if result.asystole]
    assert fired == []
    assert max(result.longest_pause_seconds for _, result in results) < 4


def test_a103l_lead_v_alone_would_alarm(a103l):
    # Lead V alone shows long pauses near 300 s: the kind of signal behind
    # the monitor's false alarm, which lead II and the pulse wave overrule.
    start = ALARM_SECONDS - 10
    signals = a103l.p_signal[start * a103l.fs :]
    results = ecg.scan_asystole(signals, a103l.fs, [1], None, step_seconds=2)
    assert any(result.asystole for _, result in results)


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_flat_line_raises_asystole(a103l, noise):
    signals = a103l.p_signal.copy()
    flat = slice(296 * a103l.fs, 306 * a103l.fs)
    signals[flat] = 0.0
    signals[flat] += np.random.default_rng(7).normal(0, noise, signals[flat].shape)
    chunk = window(signals, a103l.fs, 306)

    result = ecg.check_asystole(chunk[:, :2], chunk[:, 2], a103l.fs)

    assert result.asystole
    assert result.longest_pause_seconds >= 9
    assert result.ecg_beats > 0


def test_flat_ecg_with_pulse_is_not_asystole(a103l):
    signals = a103l.p_signal.copy()
    signals[296 * a103l.fs : 306 * a103l.fs, :2] = 0.0
    chunk = window(signals, a103l.fs, 306)

    result = ecg.check_asystole(chunk[:, :2], chunk[:, 2], a103l.fs)

    assert result.longest_ecg_pause_seconds >= 9
    assert not result.asystole


def test_rhythm_metrics_regular_and_irregular():
    fs = 250
    regular = np.arange(0, 60 * fs, fs)  # 60 beats/min, RR exactly 1 s
    metrics = ecg.rhythm_metrics(regular, fs)
    assert metrics.heart_rate_per_min == pytest.approx(60.0)
    assert metrics.rmssd_ms == pytest.approx(0.0)
    rr = np.random.default_rng(3).uniform(0.5, 1.1, 60) * fs
    irregular = ecg.rhythm_metrics(np.cumsum(rr).astype(int), fs)
    assert irregular.rmssd_ms > 100
    assert irregular.rr_coefficient_of_variation > 0.1


def test_rhythm_metrics_too_few_beats():
    metrics = ecg.rhythm_metrics(np.array([100]), 250)
    assert metrics.heart_rate_per_min is None


def test_compact_chunk_grid_and_scale():
    record = wfdb.rdrecord(MITDB_100, sampto=3600)
    chunk = ecg.compact_chunk(record.p_signal, record.fs, start_seconds=12.0013)
    assert chunk.fs == 250
    assert chunk.start_seconds == pytest.approx(12.004)
    assert chunk.counts.dtype == np.int16
    assert chunk.counts.shape[1] == 2
    assert abs(len(chunk.counts) - 2500) <= 1
    # R waves of lead MLII are about 1 to 2 mV: 200 to 400 counts at 5 uV.
    assert 150 < chunk.counts[:, 0].max() < 500
