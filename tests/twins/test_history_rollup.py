"""The observation rollup: kept exact by triggers, and read by the history.

Both are checked against aggregates computed from the readings themselves,
over random readings, corrections and deletions.
"""

import random
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twins.history import Window, bucket_rows, query_params
from twins.ingest import ingest
from twins.models import Bed, Observation, ObservationRollup, Patient
from twins.models.vitals import ROLLUP_SECONDS
from twins.vitals import Source

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# What a rollup row must hold, computed from the readings alone.
ROLLUP_FROM_READINGS = f"""
SELECT bed_id, patient_id, parameter,
       date_bin('{ROLLUP_SECONDS} seconds', observed_at, TIMESTAMPTZ 'epoch'),
       min(ARRAY[value, extract(epoch FROM observed_at)::float8])
           FILTER (WHERE NOT flagged),
       max(ARRAY[value, -extract(epoch FROM observed_at)::float8])
           FILTER (WHERE NOT flagged),
       max(ARRAY[extract(epoch FROM observed_at)::float8, value, flagged::int]),
       count(*)
FROM twins_observation
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
"""

ROLLUP_ROWS = """
SELECT bed_id, patient_id, parameter, bin_start, low, high, last, readings
FROM twins_observationrollup
ORDER BY 1, 2, 3, 4
"""

# The history buckets computed from every reading in the window, without
# the rollup: what the history query must return.
BUCKETS_FROM_READINGS = """
SELECT parameter,
       date_bin(%(bucket)s, observed_at, TIMESTAMPTZ 'epoch') AS bucket,
       min(ARRAY[value, extract(epoch FROM observed_at)::float8])
           FILTER (WHERE NOT flagged),
       max(ARRAY[value, -extract(epoch FROM observed_at)::float8])
           FILTER (WHERE NOT flagged),
       max(ARRAY[extract(epoch FROM observed_at)::float8, value, flagged::int])
FROM twins_observation
WHERE bed_id = %(bed)s AND parameter = ANY(%(parameters)s)
  AND patient_id IS NOT DISTINCT FROM %(patient)s
  AND observed_at >= %(start)s AND observed_at <= %(end)s
GROUP BY 1, 2
ORDER BY 2, 1
"""


def fetch(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def store(bed, patient, parameter, seconds_values, at_zero, flagged=(), device="m1"):
    Observation.objects.bulk_create(
        Observation(
            bed=bed,
            patient=patient,
            device=device,
            parameter=parameter,
            value=value,
            unit="/min",
            observed_at=at_zero + timedelta(seconds=second),
            source="device",
            flagged=second in flagged,
        )
        for second, value in seconds_values
    )


def test_rollup_merges_inserted_readings(ward):
    bed = Bed.objects.get(code="icu1-bed01")
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    bin_start = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
    assert bin_start.timestamp() % ROLLUP_SECONDS == 0
    store(bed, patient, "heart_rate", [(0, 80.0), (5, 120.0), (9, 20.0)], bin_start)
    # A second statement into the same bin: a higher low, a flagged reading
    # above every high, a tie with the high, and the newest reading.
    store(
        bed, patient, "heart_rate", [(12, 300.0), (20, 120.0), (25, 90.0)],
        bin_start, flagged={12}, device="m2",
    )  # fmt: skip

    row = ObservationRollup.objects.get(bed=bed, parameter="heart_rate")
    epoch = bin_start.timestamp()
    assert row.bin_start == bin_start
    assert row.readings == 6
    assert row.low == [20.0, epoch + 9]
    # The earlier of two equal highs is kept; the flagged 300 is no extreme.
    assert row.high == [120.0, -(epoch + 5)]
    assert row.last == [epoch + 25, 90.0, 0.0]


def test_rollup_ignores_resent_batch(ward):
    """A device resending a batch stores nothing twice, so counts nothing twice."""
    now = timezone.now().replace(microsecond=0)
    batch = [
        {
            "bed": "icu1-bed02",
            "device": "monitor-bed02",
            "timestamp": (now - timedelta(seconds=second)).isoformat(),
            "parameter": "spo2",
            "value": 95 + second % 3,
            "unit": "%",
        }
        for second in range(40)
    ]
    ingest(batch, Source.DEVICE)
    ingest(batch, Source.DEVICE)

    assert Observation.objects.filter(bed__code="icu1-bed02").count() == 40
    assert fetch(ROLLUP_ROWS) == fetch(ROLLUP_FROM_READINGS)
    assert sum(row[-1] for row in fetch(ROLLUP_ROWS)) == 40


def test_rollup_bin_rebuilt_after_correction(ward):
    """A corrected reading rebuilds its bin from the readings in that bin only."""
    bed = Bed.objects.get(code="icu1-bed03")
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    bin_start = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
    seconds = range(2 * ROLLUP_SECONDS)
    store(bed, patient, "resp_rate", [(s, 10.0 + s) for s in seconds], bin_start)

    Observation.objects.filter(
        bed=bed, observed_at=bin_start + timedelta(seconds=5)
    ).update(flagged=True)
    Observation.objects.filter(
        bed=bed, observed_at=bin_start + timedelta(seconds=ROLLUP_SECONDS - 1)
    ).delete()

    first, second = ObservationRollup.objects.filter(bed=bed).order_by("bin_start")
    epoch = bin_start.timestamp()
    assert first.readings == ROLLUP_SECONDS - 1
    assert first.high == [10.0 + ROLLUP_SECONDS - 2, -(epoch + ROLLUP_SECONDS - 2)]
    assert first.last == [epoch + ROLLUP_SECONDS - 2, 44.0, 0.0]
    assert second.readings == ROLLUP_SECONDS
    assert fetch(ROLLUP_ROWS) == fetch(ROLLUP_FROM_READINGS)


def test_rollup_emptied_with_readings(ward):
    bed = Bed.objects.get(code="icu1-bed03")
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    store(bed, patient, "resp_rate", [(0, 16.0), (100, 18.0)], timezone.now())
    assert ObservationRollup.objects.filter(bed=bed).count() == 2

    with connection.cursor() as cursor:
        # Django's foreign keys are checked at commit; TRUNCATE in the same
        # transaction needs those checks done first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE twins_observation")

    assert not ObservationRollup.objects.exists()


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("insert"),
            # Four bins, so batches often merge into bins already stored.
            st.lists(st.integers(0, 143), min_size=1, max_size=30, unique=True),
            st.sampled_from(["heart_rate", "spo2"]),
            st.booleans(),
        ),
        st.tuples(st.just("flag"), st.integers(0, 143), st.integers(1, 60)),
        st.tuples(st.just("revalue"), st.integers(0, 143), st.integers(1, 60)),
        st.tuples(st.just("move"), st.integers(0, 143), st.integers(-50, 50)),
        st.tuples(st.just("reassign"), st.integers(0, 143), st.integers(1, 60)),
        st.tuples(st.just("delete"), st.integers(0, 143), st.integers(1, 60)),
    ),
    min_size=1,
    max_size=8,
)


@EXAMPLES
@given(steps=operations, seed=st.integers(0, 2**16))
def test_rollup_exact_after_any_changes(ward, steps, seed):
    """Inserts, corrections, moves, reassignments and deletions, in any order."""
    rng = random.Random(seed)
    bed = Bed.objects.get(code="icu1-bed04")
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    Observation.objects.filter(bed=bed).delete()
    at_zero = datetime(2026, 12, 4, 11, 0, 0, tzinfo=UTC)
    device = 0
    for step in steps:
        kind, first = step[0], step[1]
        if kind == "insert":
            _, seconds, parameter, with_patient = step
            device += 1
            store(
                bed,
                patient if with_patient else None,
                parameter,
                [(second, float(rng.randint(50, 60))) for second in seconds],
                at_zero,
                flagged={second for second in seconds if rng.random() < 0.2},
                device=f"m{device}",
            )
            continue
        span = Observation.objects.filter(
            bed=bed,
            observed_at__gte=at_zero + timedelta(seconds=first),
            observed_at__lt=at_zero + timedelta(seconds=first + step[2]),
        )
        if kind == "flag":
            span.update(flagged=True)
        elif kind == "revalue":
            span.update(value=float(rng.randint(40, 70)))
        elif kind == "move":
            # A clock correction; readings that would collide stay put.
            for reading in span:
                moved = reading.observed_at + timedelta(seconds=step[2])
                collides = Observation.objects.filter(
                    device=reading.device,
                    parameter=reading.parameter,
                    observed_at=moved,
                ).exists()
                if not collides:
                    Observation.objects.filter(pk=reading.pk).update(observed_at=moved)
        elif kind == "reassign":
            span.update(patient=None)
        else:
            span.delete()

    assert fetch(ROLLUP_ROWS) == fetch(ROLLUP_FROM_READINGS)


@EXAMPLES
@given(
    window_name=st.sampled_from(["6h", "24h"]),
    now_offset=st.integers(0, 3 * 144),
    offsets=st.lists(
        st.one_of(
            st.integers(-150, 150).map(lambda near: ("start", near)),
            st.integers(-600, 150).map(lambda near: ("end", near)),
            st.integers(0, 24 * 3600).map(lambda anywhere: ("start", anywhere)),
        ),
        min_size=1,
        max_size=120,
        unique=True,
    ),
    seed=st.integers(0, 2**16),
)
def test_history_buckets_equal_readings(ward, window_name, now_offset, offsets, seed):
    """Rollup bins and readings give the buckets the readings alone give.

    Readings cluster at the window's start, where a bin straddles the edge,
    and before its end, where the full-resolution tail begins.
    """
    rng = random.Random(seed)
    bed = Bed.objects.get(code="icu1-bed05")
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    Observation.objects.filter(bed=bed).delete()
    window = Window.parse(window_name)
    now = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC) + timedelta(seconds=now_offset)
    start = now - timedelta(seconds=window.seconds)
    seconds = sorted(
        {
            round(((start if anchor == "start" else now) - start).total_seconds())
            + near
            for anchor, near in offsets
        }
    )
    for parameter in ("heart_rate", "resp_rate"):
        store(
            bed,
            patient if rng.random() < 0.9 else None,
            parameter,
            [(second, float(rng.randint(10, 14))) for second in seconds],
            start,
            flagged={second for second in seconds if rng.random() < 0.15},
        )

    params = query_params(bed, patient, window, now)

    assert params["binned_to"] > params["binned_from"]
    assert bucket_rows(params) == fetch(BUCKETS_FROM_READINGS, params)


@pytest.mark.parametrize(
    ("name", "binned"), [("1h", False), ("6h", True), ("24h", True)]
)
def test_history_reads_rollup_where_bins_fit(ward, name, binned):
    bed = Bed.objects.get(code="icu1-bed06")
    window = Window.parse(name)
    now = datetime(2026, 12, 4, 12, 0, 7, tzinfo=UTC)

    params = query_params(bed, None, window, now)

    assert (params["binned_to"] > params["binned_from"]) is binned
    if binned:
        assert params["binned_from"].timestamp() % ROLLUP_SECONDS == 0
        assert params["binned_from"] - params["start"] < timedelta(
            seconds=ROLLUP_SECONDS
        )
        assert params["binned_to"] == params["cut"]


@pytest.mark.django_db(transaction=True)
def test_rollup_correction_beside_open_insert(ward):
    """A correction waits for a concurrent insert into the same new bin.

    The insert's rollup row is invisible to the correction until it commits.
    Without the per-bed lock, the correction's rebuild then collided with it.
    """
    bed = Bed.objects.get(code="icu1-bed06")
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    bin_start = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    store(bed, patient, "heart_rate", [(0, 70.0)], bin_start - timedelta(hours=1))
    moved = Observation.objects.get(bed=bed)
    dsn = connection.get_connection_params()
    errors = []

    with psycopg.connect(**dsn) as inserting, psycopg.connect(**dsn) as correcting:
        inserting.execute(
            "INSERT INTO twins_observation (bed_id, patient_id, device, parameter,"
            " value, unit, observed_at, received_at, source, flagged, flag_reason)"
            " VALUES (%s, %s, 'other', 'heart_rate', 99, '/min', %s, now(),"
            " 'device', false, '')",
            [bed.pk, patient.pk, bin_start + timedelta(seconds=3)],
        )

        def correct():
            try:
                correcting.execute(
                    "UPDATE twins_observation SET observed_at = %s WHERE id = %s",
                    [bin_start + timedelta(seconds=5), moved.pk],
                )
                correcting.commit()
            except psycopg.Error as error:
                errors.append(error)
                correcting.rollback()

        thread = threading.Thread(target=correct)
        thread.start()
        time.sleep(1)
        inserting.commit()
        thread.join(timeout=30)

    assert errors == []
    assert fetch(ROLLUP_ROWS) == fetch(ROLLUP_FROM_READINGS)
    row = ObservationRollup.objects.get(bed=bed, bin_start=bin_start)
    assert row.readings == 2
