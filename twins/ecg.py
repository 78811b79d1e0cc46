"""ECG beat detection, rhythm metrics and an ECG-plus-pulse asystole check.

QRS complexes are found with ``wfdb.processing.XQRS`` (wfdb 4.3.1), whose
thresholds adapt to the signal. On MIT-BIH record 100 it finds every
reference beat; ``scripts/evaluate_twin_engine.py`` measures it with the
150 ms match window of ANSI/AAMI EC57 through
``wfdb.processing.compare_annotations``.

Asystole follows the definition of the PhysioNet/Computing in Cardiology
Challenge 2015 (Clifford GD et al., Computing in Cardiology 42:273-276,
2015): no QRS for at least 4 seconds. Most false asystole alarms in that
Challenge came from a noisy or disconnected ECG lead while the heart kept
beating, so here a pause counts only if no ECG lead shows a QRS and the
photoplethysmogram (PLETH) shows no pulse during the same 4 seconds.

The amplitude floors below are product choices, not published thresholds:
a deflection smaller than them is treated as noise, so that XQRS, which
adapts to any signal, does not turn the noise of a flat line into beats.
"""

import logging
from dataclasses import dataclass

import numpy as np
from scipy import signal
from wfdb import processing

logger = logging.getLogger(__name__)

ASYSTOLE_PAUSE_SECONDS = 4.0
MIN_QRS_AMPLITUDE_MV = 0.15
QRS_HALF_WIDTH_SECONDS = 0.06
# PLETH comes in normalised units whose scale depends on the monitor, so the
# pulse floor is mostly relative to the window's own pulse amplitude.
PLETH_MIN_PROMINENCE_FRACTION = 0.2
PLETH_MIN_PROMINENCE_NU = 0.01
# 200 beats/min is the fastest pulse counted as separate beats.
PLETH_MIN_PULSE_INTERVAL_SECONDS = 0.3
PLETH_BAND_HZ = (0.5, 5.0)
COMPACT_FS_HZ = 250
COMPACT_MICROVOLTS_PER_COUNT = 5


@dataclass(frozen=True)
class RhythmMetrics:
    """Heart rate and RR variability from detected beats."""

    beats: int
    heart_rate_per_min: float | None
    mean_rr_ms: float | None
    rmssd_ms: float | None
    rr_coefficient_of_variation: float | None


@dataclass(frozen=True)
class AsystoleResult:
    """Longest pause per source and whether they add up to asystole."""

    asystole: bool
    longest_pause_seconds: float
    longest_ecg_pause_seconds: float
    longest_pulse_pause_seconds: float | None
    ecg_beats: int
    pulses: int | None


@dataclass(frozen=True)
class EcgChunk:
    """An ECG chunk on the twin's sample grid, as int16 counts."""

    start_seconds: float
    fs: int
    microvolts_per_count: int
    counts: np.ndarray  # shape (samples, leads), int16


def detect_beats(ecg: np.ndarray, fs: float) -> np.ndarray:
    """Return the sample indices of QRS complexes in one ECG lead in mV."""
    ecg = np.nan_to_num(np.asarray(ecg, dtype=float))
    if ecg.size < fs or np.ptp(ecg) < MIN_QRS_AMPLITUDE_MV:
        return np.array([], dtype=int)
    detector = processing.XQRS(sig=ecg, fs=fs)
    detector.detect(verbose=False)
    beats = np.asarray(detector.qrs_inds, dtype=int)
    return beats[_qrs_amplitudes(ecg, fs, beats) >= MIN_QRS_AMPLITUDE_MV]


def _qrs_amplitudes(ecg: np.ndarray, fs: float, beats: np.ndarray) -> np.ndarray:
    half = int(QRS_HALF_WIDTH_SECONDS * fs)
    return np.array(
        [np.ptp(ecg[max(0, i - half) : i + half + 1]) for i in beats], dtype=float
    )


def detect_pulses(pleth: np.ndarray, fs: float) -> np.ndarray:
    """Return the sample indices of pulse peaks in a PLETH signal."""
    pleth = np.nan_to_num(np.asarray(pleth, dtype=float))
    if pleth.size < fs:
        return np.array([], dtype=int)
    sos = signal.butter(2, PLETH_BAND_HZ, btype="bandpass", fs=fs, output="sos")
    filtered = signal.sosfiltfilt(sos, pleth)
    spread = np.percentile(filtered, 95) - np.percentile(filtered, 5)
    floor = max(PLETH_MIN_PROMINENCE_FRACTION * spread, PLETH_MIN_PROMINENCE_NU)
    peaks, _ = signal.find_peaks(
        filtered,
        prominence=floor,
        distance=max(1, int(PLETH_MIN_PULSE_INTERVAL_SECONDS * fs)),
    )
    return peaks


def rhythm_metrics(beats: np.ndarray, fs: float) -> RhythmMetrics:
    """Compute heart rate, RMSSD and the RR coefficient of variation."""
    rr_ms = np.diff(np.sort(beats)) / fs * 1000.0
    if rr_ms.size < 2:
        return RhythmMetrics(len(beats), None, None, None, None)
    mean_rr = float(rr_ms.mean())
    return RhythmMetrics(
        beats=len(beats),
        heart_rate_per_min=60_000.0 / mean_rr,
        mean_rr_ms=mean_rr,
        rmssd_ms=float(np.sqrt(np.mean(np.diff(rr_ms) ** 2))),
        rr_coefficient_of_variation=float(rr_ms.std(ddof=1) / mean_rr),
    )


def longest_pause_seconds(events: np.ndarray, samples: int, fs: float) -> float:
    """Return the longest stretch without an event, window edges included."""
    edges = np.concatenate([[0], np.sort(events), [samples]])
    return float(np.diff(edges).max() / fs)


def check_asystole(
    ecg_leads: np.ndarray, pleth: np.ndarray | None, fs: float
) -> AsystoleResult:
    """Check one window for asystole: no QRS in any lead and no pulse.

    ``ecg_leads`` has shape (samples, leads) in mV; ``pleth`` may be None
    when no pulse oximeter is connected, and then the ECG decides alone.
    """
    ecg_leads = np.asarray(ecg_leads, dtype=float).reshape(len(ecg_leads), -1)
    samples = len(ecg_leads)
    beats = np.concatenate(
        [detect_beats(ecg_leads[:, lead], fs) for lead in range(ecg_leads.shape[1])]
    )
    ecg_pause = longest_pause_seconds(beats, samples, fs)
    pulses = detect_pulses(pleth, fs) if pleth is not None else None
    events = beats if pulses is None else np.concatenate([beats, pulses])
    pause = longest_pause_seconds(events, samples, fs)
    result = AsystoleResult(
        asystole=pause >= ASYSTOLE_PAUSE_SECONDS,
        longest_pause_seconds=pause,
        longest_ecg_pause_seconds=ecg_pause,
        longest_pulse_pause_seconds=(
            None if pulses is None else longest_pause_seconds(pulses, samples, fs)
        ),
        ecg_beats=len(np.unique(beats)),
        pulses=None if pulses is None else len(pulses),
    )
    if result.asystole:
        logger.warning(
            "asystole: no QRS%s for %.1f s",
            "" if pulses is None else " and no pulse",
            result.longest_pause_seconds,
        )
    return result


def compact_chunk(ecg_leads: np.ndarray, fs: float, start_seconds: float) -> EcgChunk:
    """Resample a chunk onto the twin's 250 Hz grid and store it as int16.

    The grid starts at the first multiple of 1/250 s at or after
    ``start_seconds``, so chunks from devices with different clocks and
    rates line up sample for sample.
    """
    ecg_leads = np.asarray(ecg_leads, dtype=float).reshape(len(ecg_leads), -1)
    times = start_seconds + np.arange(len(ecg_leads)) / fs
    if fs > COMPACT_FS_HZ:
        # Low-pass below the new Nyquist frequency so downsampling cannot alias.
        sos = signal.butter(4, 0.4 * COMPACT_FS_HZ, fs=fs, output="sos")
        ecg_leads = signal.sosfiltfilt(sos, ecg_leads, axis=0)
    first = np.ceil(start_seconds * COMPACT_FS_HZ) / COMPACT_FS_HZ
    grid = np.arange(first, times[-1], 1.0 / COMPACT_FS_HZ)
    resampled = np.column_stack(
        [
            np.interp(grid, times, ecg_leads[:, lead])
            for lead in range(ecg_leads.shape[1])
        ]
    )
    resampled -= np.median(resampled, axis=0)
    counts = np.round(resampled * 1000.0 / COMPACT_MICROVOLTS_PER_COUNT)
    limits = np.iinfo(np.int16)
    counts = np.clip(counts, limits.min, limits.max).astype(np.int16)
    return EcgChunk(float(first), COMPACT_FS_HZ, COMPACT_MICROVOLTS_PER_COUNT, counts)


# ANSI/AAMI EC57 counts a detection within 150 ms of a reference beat.
MATCH_WINDOW_SECONDS = 0.15
# MIT-BIH annotation codes that mark a beat; rhythm marks such as "+" and
# signal-quality marks are left out.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
ASYSTOLE_WINDOW_SECONDS = 16.0


@dataclass(frozen=True)
class BeatDetectionScore:
    reference_beats: int
    true_positives: int
    false_positives: int
    false_negatives: int
    sensitivity: float
    positive_predictivity: float


def evaluate_beat_detection(record_path: str, lead: int = 0) -> BeatDetectionScore:
    """Score ``detect_beats`` on a WFDB record against its ``atr`` beats."""
    import wfdb

    record = wfdb.rdrecord(record_path)
    annotation = wfdb.rdann(record_path, "atr")
    reference = np.array(
        [
            sample
            for sample, symbol in zip(annotation.sample, annotation.symbol, strict=True)
            if symbol in BEAT_SYMBOLS
        ]
    )
    detected = detect_beats(record.p_signal[:, lead], record.fs)
    comparison = processing.compare_annotations(
        reference, detected, int(MATCH_WINDOW_SECONDS * record.fs)
    )
    return BeatDetectionScore(
        reference_beats=len(reference),
        true_positives=comparison.tp,
        false_positives=comparison.fp,
        false_negatives=comparison.fn,
        sensitivity=comparison.sensitivity,
        positive_predictivity=comparison.positive_predictivity,
    )


def scan_asystole(
    signals: np.ndarray,
    fs: float,
    ecg_columns: list[int],
    pleth_column: int | None,
    step_seconds: float = 1.0,
) -> list[tuple[float, AsystoleResult]]:
    """Run ``check_asystole`` on sliding 16 s windows; return (end time, result).

    16 s is the stretch before an alarm that the Challenge 2015 records
    guarantee, so each window is what a monitor had when it alarmed.
    """
    window = int(ASYSTOLE_WINDOW_SECONDS * fs)
    step = int(step_seconds * fs)
    results = []
    for end in range(window, len(signals) + 1, step):
        chunk = signals[end - window : end]
        pleth = chunk[:, pleth_column] if pleth_column is not None else None
        results.append((end / fs, check_asystole(chunk[:, ecg_columns], pleth, fs)))
    return results
