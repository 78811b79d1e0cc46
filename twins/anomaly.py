"""Artefacts and sustained changes in the twin's vital-sign streams.

Input is a table with one row per sample (1 Hz for bedside numerics) and
one column per parameter of ``twins.vitals.PARAMETERS``; NaN means no value.

Artefacts, checked first, because a change detector fed with artefacts
reports the artefacts:

- dropout: no value, or 0, which these monitors send when a probe is off;
- implausible: outside the plausible range of ``twins.vitals``;
- spike: a Hampel filter, a value far from the rolling median by more than
  both ``HAMPEL_SIGMAS`` robust standard deviations (1.4826 x MAD) and the
  parameter's ``min_jump``;
- flat-line: the same value for ``FLAT_LINE_SECONDS`` or longer, a monitor
  holding its last value; SpO2 is exempt because it often rests on one
  whole per cent for minutes;
- disagreement: ECG heart rate and pleth pulse rate apart by more than
  ``max(10 /min, 10 %)`` for ``DISAGREEMENT_SECONDS``; one of them is wrong.

Sustained change: on the series with artefacts removed, the median of the
last ``RECENT_SECONDS`` is compared with the median of the
``BASELINE_SECONDS`` before it. A change is reported when the difference
exceeds both ``CHANGE_SIGMAS`` robust standard deviations of the baseline and
the parameter's ``min_change`` for at least ``MIN_CHANGE_SECONDS``.

Every threshold here is a product choice for adult ICU numerics, tuned on
no labelled data; the evaluation script reports what they find.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from twins.vitals import PARAMETERS

HAMPEL_WINDOW_SECONDS = 15
HAMPEL_SIGMAS = 4.0
FLAT_LINE_SECONDS = 180
DISAGREEMENT_SECONDS = 10
DISAGREEMENT_MIN_PER_MIN = 10.0
DISAGREEMENT_FRACTION = 0.10
RECENT_SECONDS = 60
BASELINE_SECONDS = 120
CHANGE_SIGMAS = 4.0
MIN_CHANGE_SECONDS = 30
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Limits:
    min_jump: float
    min_change: float
    flat_line: bool = True


LIMITS = {
    "heart_rate": Limits(min_jump=20, min_change=15),
    "pulse_rate": Limits(min_jump=20, min_change=15),
    "resp_rate": Limits(min_jump=10, min_change=6),
    "spo2": Limits(min_jump=6, min_change=4, flat_line=False),
}


@dataclass(frozen=True)
class AnomalyEvent:
    kind: str
    parameter: str
    start_seconds: float
    end_seconds: float
    detail: str


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Return (first, last) index pairs of the True runs in ``mask``."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    changes = np.flatnonzero(np.diff(padded))
    return [
        (int(a), int(b) - 1) for a, b in zip(changes[::2], changes[1::2], strict=True)
    ]


def _samples(seconds: float, period: float, minimum: int = 1) -> int:
    return max(minimum, int(round(seconds / period)))


def _events(kind, parameter, mask, times, detail, min_length=1):
    return [
        AnomalyEvent(kind, parameter, float(times[a]), float(times[b]), detail(a, b))
        for a, b in _runs(mask)
        if b - a + 1 >= min_length
    ]


def _spikes(values: np.ndarray, period: float, limits: Limits) -> np.ndarray:
    window = _samples(HAMPEL_WINDOW_SECONDS, period, minimum=3) | 1
    series = pd.Series(values)
    median = series.rolling(window, center=True, min_periods=3).median()
    mad = (series - median).abs().rolling(window, center=True, min_periods=3).median()
    threshold = np.maximum(HAMPEL_SIGMAS * MAD_TO_SIGMA * mad, limits.min_jump)
    return ((series - median).abs() > threshold).to_numpy()


def _flat_runs(values: np.ndarray, min_length: int) -> list[tuple[int, int]]:
    """Return (first, last) of each run of one repeated value, if long enough."""
    changed = np.concatenate([[True], values[1:] != values[:-1]])
    starts = np.flatnonzero(changed)
    ends = np.concatenate([starts[1:], [len(values)]]) - 1
    return [
        (int(a), int(b))
        for a, b in zip(starts, ends, strict=True)
        if b - a + 1 >= min_length and not np.isnan(values[a])
    ]


def detect_artefacts(frame: pd.DataFrame, period: float = 1.0) -> list[AnomalyEvent]:
    """Find dropouts, implausible values, spikes, flat-lines, disagreement."""
    times = frame.index.to_numpy(dtype=float)
    events = []
    for parameter in frame.columns.intersection(list(LIMITS)):
        values = frame[parameter].to_numpy(dtype=float)
        limits, (low, high) = LIMITS[parameter], PARAMETERS[parameter].plausible
        missing = np.isnan(values) | (values == 0)
        events += _events(
            "dropout", parameter, missing, times, lambda a, b: "no value or 0"
        )
        present = np.where(missing, np.nan, values)
        implausible = (present < low) | (present > high)
        events += _events(
            "implausible", parameter, implausible, times,
            lambda a, b, v=present, lo=low, hi=high:
                f"value {np.nanmax(np.abs(v[a:b + 1])):g} outside {lo:g}-{hi:g}",
        )  # fmt: skip
        events += _events(
            "spike", parameter, _spikes(present, period, limits) & ~implausible,
            times, lambda a, b, v=present: f"value {v[a]:g} far from its neighbours",
        )  # fmt: skip
        if limits.flat_line:
            events += [
                AnomalyEvent(
                    "flat-line",
                    parameter,
                    float(times[a]),
                    float(times[b]),
                    f"{present[a]:g} unchanged for {b - a + 1} samples",
                )
                for a, b in _flat_runs(present, _samples(FLAT_LINE_SECONDS, period))
            ]
    return events + _disagreement(frame, times, period)


def _disagreement(frame, times, period) -> list[AnomalyEvent]:
    if not {"heart_rate", "pulse_rate"} <= set(frame.columns):
        return []
    heart = frame["heart_rate"].replace(0, np.nan).to_numpy(dtype=float)
    pulse = frame["pulse_rate"].replace(0, np.nan).to_numpy(dtype=float)
    gap = np.abs(heart - pulse)
    allowed = np.maximum(DISAGREEMENT_MIN_PER_MIN, DISAGREEMENT_FRACTION * heart)
    return _events(
        "disagreement", "heart_rate/pulse_rate", gap > allowed, times,
        lambda a, b: f"HR and PULSE up to {np.nanmax(gap[a:b + 1]):.0f} /min apart",
        min_length=_samples(DISAGREEMENT_SECONDS, period),
    )  # fmt: skip


def artefact_mask(frame: pd.DataFrame, events: list[AnomalyEvent]) -> pd.DataFrame:
    """Return a boolean table marking samples covered by an artefact event."""
    mask = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    for event in events:
        for parameter in event.parameter.split("/"):
            if parameter in mask.columns:
                span = (mask.index >= event.start_seconds) & (
                    mask.index <= event.end_seconds
                )
                mask.loc[span, parameter] = True
    return mask


def detect_changes(
    frame: pd.DataFrame, period: float = 1.0, artefacts: list | None = None
) -> list[AnomalyEvent]:
    """Find sustained changes in each parameter, ignoring artefact samples."""
    if artefacts is None:
        artefacts = detect_artefacts(frame, period)
    clean = frame.mask(artefact_mask(frame, artefacts))
    times = frame.index.to_numpy(dtype=float)
    recent = _samples(RECENT_SECONDS, period, minimum=3)
    baseline = _samples(BASELINE_SECONDS, period, minimum=3)
    events = []
    for parameter in clean.columns.intersection(list(LIMITS)):
        series = clean[parameter]
        now = series.rolling(recent, min_periods=recent // 2).median()
        before = series.shift(recent).rolling(baseline, min_periods=baseline // 2)
        base = before.median()
        spread = (
            MAD_TO_SIGMA
            * (series.shift(recent) - base)
            .abs()
            .rolling(baseline, min_periods=baseline // 2)
            .median()
        )
        delta = (now - base).to_numpy()
        threshold = np.maximum(
            CHANGE_SIGMAS * spread.to_numpy(), LIMITS[parameter].min_change
        )
        changed = np.abs(delta) > threshold
        events += _events(
            "change", parameter, changed, times,
            lambda a, b, d=delta, p=parameter: f"median moved {d[b]:+.0f} "
            f"{PARAMETERS[p].unit} from its baseline",
            min_length=_samples(MIN_CHANGE_SECONDS, period),
        )  # fmt: skip
    return events


def detect_anomalies(frame: pd.DataFrame, period: float = 1.0) -> list[AnomalyEvent]:
    """Return artefact events followed by sustained-change events."""
    artefacts = detect_artefacts(frame, period)
    return artefacts + detect_changes(frame, period, artefacts)
