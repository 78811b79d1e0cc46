"""Trend history of one bed for the panel charts, downsampled in PostgreSQL.

A day of 1 Hz data is 86,400 readings per parameter, too many to send to a
browser and draw. Older readings are grouped into time buckets of equal
width, and each bucket contributes its minimum and its maximum at the times
they occurred, so a short desaturation or a spike survives downsampling
where a mean would hide it. The last ``FULL_RESOLUTION_SECONDS`` are sent
reading by reading. Where a bucket is a whole number of rollup bins (the
6 h and 24 h windows), its extremes come from ``ObservationRollup``, which
the database keeps per 36 s bin, so a day costs 2,400 rows per parameter
instead of 86,400; the result is the same as from the readings.

NEWS2 over time is recomputed from the stored readings the way the live twin
computes it: each parameter's newest reading counts until a newer one comes,
and a flagged newest reading (a likely artefact) leaves that parameter out.
Times are stored in UTC and returned in the hospital's time zone.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone

from twins.errors import FieldValueError
from twins.models import Bed, Observation, ObservationRollup, Patient
from twins.models.vitals import ROLLUP_SECONDS
from twins.news2 import PARAMETER_ORDER
from twins.twin import score_twin
from twins.vitals import PARAMETERS

WINDOWS_SECONDS = {"1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600}
FULL_RESOLUTION_SECONDS = 300
MAX_BUCKETS = 600
# Flagged readings are drawn as markers; a probe that stays off for hours
# would otherwise send one marker per second.
MAX_FLAGGED_POINTS = 500
TREND_PARAMETERS = (
    "heart_rate",
    "pulse_rate",
    "spo2",
    "resp_rate",
    "systolic_bp",
    "diastolic_bp",
    "temperature",
)


class HistoryError(FieldValueError):
    """An invalid history request; names the field, the value and what is allowed."""


@dataclass(frozen=True)
class Window:
    name: str
    seconds: int
    bucket_seconds: int

    @classmethod
    def parse(cls, raw) -> "Window":
        if raw not in WINDOWS_SECONDS:
            raise HistoryError(
                "window",
                raw,
                f"invalid window: use one of {', '.join(WINDOWS_SECONDS)}",
            )
        seconds = WINDOWS_SECONDS[raw]
        downsampled = seconds - FULL_RESOLUTION_SECONDS
        return cls(raw, seconds, max(1, math.ceil(downsampled / MAX_BUCKETS)))


# Arrays compare element by element, so min() and max() over [value, time]
# pairs find each bucket's extremes with their times without sorting a
# group. The later of two equal extremes loses because its time is larger
# in the minimum and its negated time smaller in the maximum.
#
# Whole rollup bins inside the window stand in for their readings. Readings
# are read only before the first whole bin and in the full-resolution tail,
# each as a bin of one reading (without extremes when flagged), so both
# parts aggregate alike.
# One range of readings, each as a bin of one reading. {{table}} is left for
# _query to fill in.
_READINGS_AS_BINS = """
    SELECT parameter, observed_at,
           CASE WHEN NOT flagged
                THEN ARRAY[value, extract(epoch FROM observed_at)::float8] END,
           CASE WHEN NOT flagged
                THEN ARRAY[value, -extract(epoch FROM observed_at)::float8] END,
           ARRAY[extract(epoch FROM observed_at)::float8, value, flagged::int]
    FROM {{table}}
    WHERE bed_id = %(bed)s AND parameter = ANY(%(parameters)s)
      AND patient_id IS NOT DISTINCT FROM %(patient)s
      AND observed_at >= %({lower})s AND observed_at {upper}
"""

_BUCKET_SQL = f"""
WITH parts AS (
    SELECT parameter, bin_start AS at, low, high, last
    FROM {{rollup}}
    WHERE bed_id = %(bed)s AND parameter = ANY(%(parameters)s)
      AND patient_id IS NOT DISTINCT FROM %(patient)s
      AND bin_start >= %(binned_from)s AND bin_start < %(binned_to)s
    UNION ALL
    {_READINGS_AS_BINS.format(lower="start", upper="< %(binned_from)s")}
    UNION ALL
    {_READINGS_AS_BINS.format(lower="binned_to", upper="<= %(end)s")}
)
SELECT parameter,
       date_bin(%(bucket)s, at, TIMESTAMPTZ 'epoch') AS bucket,
       min(low), max(high), max(last)
FROM parts
GROUP BY 1, 2
ORDER BY 2, 1
"""

_RAW_SQL = """
SELECT parameter, observed_at, value
FROM {table}
WHERE bed_id = %(bed)s AND parameter = ANY(%(parameters)s)
  AND patient_id IS NOT DISTINCT FROM %(patient)s
  AND observed_at >= %(start)s AND observed_at <= %(end)s AND NOT flagged
ORDER BY observed_at
"""

_FLAGGED_SQL = """
SELECT parameter, observed_at, value
FROM {table}
WHERE bed_id = %(bed)s AND parameter = ANY(%(parameters)s)
  AND patient_id IS NOT DISTINCT FROM %(patient)s
  AND observed_at >= %(start)s AND observed_at <= %(end)s AND flagged
ORDER BY observed_at DESC
LIMIT %(limit)s
"""

# The newest reading of each parameter before the window opens, so NEWS2 at
# the window's first bucket is what the twin showed then. One index lookup
# per parameter: a DISTINCT ON would sort every older reading of the bed.
_BEFORE_SQL = """
SELECT wanted.parameter, newest.value, newest.flagged
FROM unnest(%(parameters)s::text[]) AS wanted(parameter)
CROSS JOIN LATERAL (
    SELECT value, flagged
    FROM {table}
    WHERE bed_id = %(bed)s AND parameter = wanted.parameter
      AND patient_id IS NOT DISTINCT FROM %(patient)s
      AND observed_at < %(start)s
    ORDER BY observed_at DESC
    LIMIT 1
) AS newest
"""


def _query(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.format(
                table=Observation._meta.db_table,
                rollup=ObservationRollup._meta.db_table,
            ),
            params,
        )
        return cursor.fetchall()


def binned_span(
    start: datetime, cut: datetime, bucket: int
) -> tuple[datetime, datetime]:
    """Return the part of ``[start, cut)`` that whole rollup bins cover.

    Buckets narrower than a bin, or not a multiple of it, are built from the
    readings alone: the span is then empty.
    """
    if bucket % ROLLUP_SECONDS:
        return start, start
    first = math.ceil(start.timestamp() / ROLLUP_SECONDS) * ROLLUP_SECONDS
    binned_from = datetime.fromtimestamp(first, tz=start.tzinfo)
    return binned_from, max(cut, binned_from)


class _Series:
    """Points of one line; a gap longer than ``max_gap`` breaks the line."""

    def __init__(self, zone: ZoneInfo, max_gap: timedelta):
        self.zone = zone
        self.max_gap = max_gap
        self.times: list[str | None] = []
        self.values: list[float | None] = []
        self.last_at: datetime | None = None

    def add(self, at: datetime, value) -> None:
        if self.last_at is not None and at - self.last_at > self.max_gap:
            # Plotly draws a line across a gap unless a null point is in it,
            # and a line across a gap would look like measured data.
            self.times.append(None)
            self.values.append(None)
        self.times.append(local_time(at, self.zone))
        self.values.append(value)
        self.last_at = at


def local_time(at: datetime, zone: ZoneInfo) -> str:
    """Format ``at`` as a local wall-clock time without offset, for Plotly.

    Plotly.js places date strings as given and has no time zones, so times
    are shifted to the hospital's zone on the server.
    """
    # NOTE: when clocks go back, the repeated local hour is drawn over the
    # hour before it. The response gives only the UTC offset at its end.
    return at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def _bucket_points(row) -> list[tuple[datetime, float]]:
    _, _, low, high, _ = row
    if low is None:
        return []
    low_at = datetime.fromtimestamp(low[1], tz=UTC)
    high_at = datetime.fromtimestamp(-high[1], tz=UTC)
    if low_at == high_at:
        return [(low_at, low[0])]
    return sorted([(low_at, low[0]), (high_at, high[0])])


class _News2Track:
    """NEWS2 computed at the end of each bucket from the readings so far."""

    def __init__(self, zone, max_gap, spo2_scale, before_rows):
        self.zone = zone
        self.max_gap = max_gap
        self.spo2_scale = spo2_scale
        self.latest = {
            parameter: {"value": value, "flagged": flagged}
            for parameter, value, flagged in before_rows
        }
        # None marks a gap in the data, drawn as a break in the line.
        self.points: list[tuple[datetime, dict] | None] = []
        self.last_at: datetime | None = None

    def add(self, at: datetime, updates: dict) -> None:
        self.latest.update(updates)
        if self.last_at is not None and at - self.last_at > self.max_gap:
            self.points.append(None)
        self.points.append((at, score_twin(self.latest, self.spo2_scale)))
        self.last_at = at

    def as_dict(self) -> dict:
        results = [point[1] if point else None for point in self.points]
        scored = [name for name in PARAMETER_ORDER if any(
            result and name in result["scores"] for result in results
        )]  # fmt: skip
        return {
            "t": [local_time(point[0], self.zone) if point else None
                  for point in self.points],
            "aggregate": [result and result["aggregate"] for result in results],
            "partial": [result and result["partial"] for result in results],
            "scores": {
                name: [result and result["scores"].get(name) for result in results]
                for name in scored
            },
        }  # fmt: skip


def admitted_patient(bed: Bed) -> Patient | None:
    return Patient.objects.filter(bed=bed, discharged_at__isnull=True).first()


def query_params(
    bed: Bed, patient: Patient | None, window: Window, now: datetime
) -> dict:
    """Return the bounds and filters the history queries of one request share."""
    bucket = window.bucket_seconds
    start = now - timedelta(seconds=window.seconds)
    # Buckets are aligned to the epoch, so the full-resolution tail starts at
    # a bucket edge and no reading is counted in both parts.
    cut_epoch = (now.timestamp() - FULL_RESOLUTION_SECONDS) // bucket * bucket
    cut = datetime.fromtimestamp(cut_epoch, tz=now.tzinfo)
    binned_from, binned_to = binned_span(start, cut, bucket)
    return {
        "bed": bed.pk,
        "patient": patient.pk if patient else None,
        "start": start,
        "cut": cut,
        "end": now,
        "binned_from": binned_from,
        "binned_to": binned_to,
        "bucket": timedelta(seconds=bucket),
        "limit": MAX_FLAGGED_POINTS,
        # The index on (bed, parameter, observed_at) serves a list of
        # parameters as one range scan each.
        "parameters": list(PARAMETERS),
    }


def bucket_rows(params: dict) -> list[tuple]:
    """Return ``(parameter, bucket, low, high, last)`` per parameter and bucket.

    ``low`` and ``high`` are the extremes of the unflagged readings with their
    times, ``last`` the newest reading with its flag, as in a rollup row.
    """
    return _query(_BUCKET_SQL, params)


def bed_history(bed: Bed, window: Window, now: datetime | None = None) -> dict:
    """Build the vitals and NEWS2 series of ``bed`` over ``window``.

    Only the current patient's readings are included, so a bed's previous
    occupant never appears in a new patient's trend.
    """
    now = now or timezone.now()
    zone = ZoneInfo(settings.TIME_ZONE)
    bucket = window.bucket_seconds
    patient = admitted_patient(bed)
    params = query_params(bed, patient, window, now)
    start, cut = params["start"], params["cut"]
    max_gap = timedelta(seconds=max(settings.SIGNAL_LOST_SECONDS, 2 * bucket))
    vitals = {name: _Series(zone, max_gap) for name in TREND_PARAMETERS}
    news2 = _News2Track(
        zone, max_gap, patient.spo2_scale if patient else 1, _query(_BEFORE_SQL, params)
    )

    pending, pending_bucket = {}, None
    for row in bucket_rows(params):
        parameter, bucket_start, _, _, (_, last_value, last_flagged) = row
        if pending_bucket is not None and bucket_start != pending_bucket:
            news2.add(_bucket_end(pending_bucket, bucket, now), pending)
            pending = {}
        pending_bucket = bucket_start
        pending[parameter] = {"value": last_value, "flagged": bool(last_flagged)}
        series = vitals.get(parameter)
        if series is None or bucket_start >= cut:
            continue
        for at, value in _bucket_points(row):
            series.add(at, value)
    if pending_bucket is not None:
        news2.add(_bucket_end(pending_bucket, bucket, now), pending)

    for parameter, at, value in _query(_RAW_SQL, {**params, "start": cut}):
        if parameter in vitals:
            vitals[parameter].add(at, value)

    flagged = {}
    for parameter, at, value in reversed(_query(_FLAGGED_SQL, params)):
        points = flagged.setdefault(parameter, {"t": [], "v": []})
        points["t"].append(local_time(at, zone))
        points["v"].append(value)

    return {
        "bed": bed.code,
        "window": window.name,
        "start": local_time(start, zone),
        "end": local_time(now, zone),
        "time_zone": settings.TIME_ZONE,
        "utc_offset_end": now.astimezone(zone).strftime("%z"),
        "bucket_seconds": bucket,
        "full_resolution_from": local_time(max(cut, start), zone),
        "vitals": {
            name: {"t": series.times, "v": series.values, "flagged": flagged.get(name)}
            for name, series in vitals.items()
            if series.times or name in flagged
        },
        "news2": news2.as_dict(),
    }


def _bucket_end(start: datetime, bucket: int, now: datetime) -> datetime:
    end = start + timedelta(seconds=bucket)
    return min(end, now)
