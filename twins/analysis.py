"""Periodic analysis of each live twin: forecast, anomalies, signal lost.

``analyse_bed`` reads the bed's recent 1 Hz numerics from the database,
refits the forecast of each parameter whose backtest beat persistence
(``twins.forecast.forecast_is_shown``), runs artefact and sustained-change
detection, and stores both in the twin.

A sustained change that is still going on raises a low-priority alert,
which resolves after the change ends. So does an artefact lasting 10 s or
more (dropout, flat-line, disagreement or implausible values), as a
technical alert. A bed whose newest reading is older than
``settings.SIGNAL_LOST_SECONDS`` gets a low-priority technical alert, and
the next reading resolves it (``twins.ingest``).
"""

import logging
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from twins import alerts, anomaly, forecast, live
from twins.models import AlertKind, Bed, Observation, Patient, Priority, TwinState

logger = logging.getLogger(__name__)

NUMERICS = ("heart_rate", "pulse_rate", "resp_rate", "spo2")
# The forecast fits on 4 minutes and the change detector compares the last
# minute with the 2 minutes before it, so 5 minutes of history cover both.
HISTORY_SECONDS = 300
# A change event whose last sample is this close to the newest sample is
# still going on.
ONGOING_SECONDS = 5
# Lasting artefacts need a nurse at the bedside, but a single spike does
# not. Examples are a probe off, a monitor holding its value, or ECG and
# pleth rates apart.
PERSISTENT_ARTEFACTS = ("dropout", "flat-line", "disagreement", "implausible")
MIN_ARTEFACT_ALERT_SECONDS = 10


def load_numerics(bed: Bed, end: datetime, seconds: int = HISTORY_SECONDS):
    """Return the bed's numerics as a 1 Hz table ending at ``end``.

    The index counts seconds from the window's start; a second without a
    reading is NaN. Rows stored more than once in a second keep the last.
    """
    start = end - timedelta(seconds=seconds)
    rows = (
        Observation.objects.filter(
            bed=bed,
            parameter__in=NUMERICS,
            observed_at__gt=start,
            observed_at__lte=end,
        )
        .order_by("observed_at")
        .values_list("parameter", "observed_at", "value")
    )
    frame = pd.DataFrame(
        np.nan, index=np.arange(seconds, dtype=float), columns=NUMERICS
    )
    for parameter, observed_at, value in rows:
        second = int((observed_at - start).total_seconds()) - 1
        if 0 <= second < seconds:
            frame.at[float(second), parameter] = value
    return frame


def forecasts(frame: pd.DataFrame, end: datetime) -> dict:
    """Fit and predict each parameter whose backtest beat persistence."""
    result = {}
    window = frame.iloc[-forecast.FIT_WINDOW_SECONDS :]
    for parameter in forecast.PARAMETERS:
        if not forecast.forecast_is_shown(parameter):
            continue
        values = window[parameter].replace(0, np.nan).to_numpy(dtype=float)
        model = forecast.fit(values)
        if model is None:
            continue
        predicted = forecast.predict(model)
        result[parameter] = {
            "value": round(predicted.value, 1),
            "low": round(predicted.low, 1),
            "high": round(predicted.high, 1),
            "horizon_seconds": forecast.HORIZON_SECONDS,
            "at": (end + timedelta(seconds=forecast.HORIZON_SECONDS)).isoformat(),
            "fitted_at": end.isoformat(),
        }
    return result


def anomaly_events(frame: pd.DataFrame, end: datetime) -> list[dict]:
    """Detect artefacts and sustained changes; times become ISO 8601 UTC."""
    start = end - timedelta(seconds=len(frame))
    present = frame.dropna(axis=1, how="all")
    if present.empty:
        return []
    # Seconds before the bed's first reading in the window are no dropout.
    present = present.loc[present.notna().any(axis=1).idxmax() :]
    events = anomaly.detect_anomalies(present)
    return [
        {
            "kind": event.kind,
            "parameter": event.parameter,
            "start": (start + timedelta(seconds=event.start_seconds + 1)).isoformat(),
            "end": (start + timedelta(seconds=event.end_seconds + 1)).isoformat(),
            "ongoing": event.end_seconds >= len(frame) - ONGOING_SECONDS,
            "seconds": event.end_seconds - event.start_seconds + 1,
            "detail": event.detail,
        }
        for event in events
    ]


def _newest_reading(latest: dict) -> datetime | None:
    times = [datetime.fromisoformat(entry["at"]) for entry in latest.values()]
    return max(times) if times else None


def _artefact_condition(events: list[dict]) -> alerts.Condition | None:
    ongoing = sorted(
        {
            f"{e['kind']} of {e['parameter']}"
            for e in events
            if e["kind"] in PERSISTENT_ARTEFACTS
            and e["ongoing"]
            and e["seconds"] >= MIN_ARTEFACT_ALERT_SECONDS
        }
    )
    if not ongoing:
        return None
    return alerts.Condition(
        AlertKind.SIGNAL_QUALITY,
        Priority.LOW,
        f"check the sensors: {', '.join(ongoing)}",
    )


def _update_alerts(bed, patient, twin, events, now) -> None:
    alerts.apply_condition(
        bed,
        patient,
        AlertKind.SIGNAL_QUALITY,
        _artefact_condition(events),
        "cleared: no artefact going on",
        now,
        twin,
    )
    changing = sorted(
        {e["parameter"] for e in events if e["kind"] == "change" and e["ongoing"]}
    )
    change = None
    if changing:
        change = alerts.Condition(
            AlertKind.SUSTAINED_CHANGE,
            Priority.LOW,
            f"sustained change in {', '.join(changing)}",
        )
    alerts.apply_condition(
        bed,
        patient,
        AlertKind.SUSTAINED_CHANGE,
        change,
        "cleared: no change going on",
        now,
        twin,
    )
    # Readings drive the NEWS2 alert; this run only lets a cleared band's
    # hold run out when readings have stopped.
    if twin.news2:
        alerts.update_news2_alert(bed, patient, twin.news2, now, twin)
    newest = _newest_reading(twin.latest)
    limit = settings.SIGNAL_LOST_SECONDS
    if newest is not None and (now - newest).total_seconds() > limit:
        lost = alerts.Condition(
            AlertKind.SIGNAL_LOST,
            Priority.LOW,
            f"signal lost: no data for over {limit} s",
        )
        alerts.raise_alert(bed, patient, lost, now, twin)


def analyse_bed(bed_id: int, now: datetime | None = None) -> dict:
    """Refit, detect and store for one bed; return the stored forecast."""
    now = now or timezone.now()
    bed = Bed.objects.select_related("ward").get(pk=bed_id)
    # The window ends at the newest reading, so a second whose reading is
    # still on its way does not look like a dropout.
    current = TwinState.objects.filter(bed=bed).first()
    newest = _newest_reading(current.latest) if current else None
    end = min(now, newest) if newest else now
    frame = load_numerics(bed, end)
    predicted = forecasts(frame, end) if frame.notna().any().any() else {}
    events = anomaly_events(frame, end)
    patient = Patient.objects.filter(bed=bed, discharged_at__isnull=True).first()
    with transaction.atomic():
        twin, _ = TwinState.objects.select_for_update().get_or_create(bed=bed)
        _update_alerts(bed, patient, twin, events, now)
        if predicted != twin.forecast or events != twin.anomalies:
            twin.forecast, twin.anomalies = predicted, events
            twin.sequence += 1
            transaction.on_commit(lambda: live.broadcast_beds([bed_id]))
        twin.save(update_fields=["forecast", "anomalies", "sequence"])
    return predicted
