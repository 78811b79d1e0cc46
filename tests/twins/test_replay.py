"""Replay of the real BIDMC recordings: one record per bed, loops show a gap."""

from datetime import timedelta

import pytest
from django.utils import timezone

from twins.models import Observation, TwinState
from twins.replay import Replay, available_records, load_record


@pytest.fixture(scope="module")
def records():
    return [load_record(path) for path in available_records()]


def test_replay_ships_twelve_records(records):
    assert len(records) == 12
    for record in records:
        assert len(record.rows) == 481  # 8 minutes at 1 Hz, t = 0 to 480 s


def test_replay_missing_cells_left_out(records):
    # Empty cells are the monitor giving no value, never a 0 or a carried value.
    for record in records:
        for row in record.rows:
            assert all(value is not None for value in row.values())


def test_replay_loop_leaves_gap(records):
    replay = Replay(["bed-a"], records[:1], loop_gap_seconds=30)
    now = timezone.now()
    length = len(records[0].rows)
    assert replay.readings_at(length - 1, now)
    for second in range(length, length + 30):
        assert replay.readings_at(second, now) == []
    restarted = replay.readings_at(length + 30, now)
    first = replay.readings_at(0, now)
    assert [r["value"] for r in restarted] == [r["value"] for r in first]


def test_replay_rejects_zero_gap(records):
    with pytest.raises(ValueError, match="invalid loop_gap_seconds 0"):
        Replay(["bed-a"], records, loop_gap_seconds=0)


@pytest.mark.django_db
def test_replay_backfill_stores_real_values(ward, records):
    replay = Replay(["icu1-bed01", "icu1-bed02"], records[:2])
    end = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    replay.backfill(5, end)
    expected = sum(len(r.rows[s]) for r in records[:2] for s in range(5))
    assert Observation.objects.count() == expected
    twin = TwinState.objects.get(bed__code="icu1-bed02")
    assert twin.latest["heart_rate"]["value"] == records[1].rows[4]["heart_rate"]
    assert twin.latest["heart_rate"]["at"] == end.isoformat()
