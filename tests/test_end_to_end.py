"""End to end: real recordings in, live frames out, placements planned by Celery.

Runs on real PostgreSQL and Redis with a Celery worker in its own process.
"""

import time
from collections import defaultdict
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.utils import timezone

from scheduler.models import ComputeNode, PlanningRun
from scheduler.models.runs import RunStatus, Trigger
from scheduler.tasks import enqueue_run
from tests.twins.test_ward_socket import communicator
from twins.models import AlertAction, Observation, TwinState
from twins.replay import Replay, available_records, load_record

RUN_TIMEOUT_SECONDS = 90
REPLAY_SECONDS = 3


def wait_for_run(run_id: int) -> PlanningRun:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        run = PlanningRun.objects.get(pk=run_id)
        if run.status in (RunStatus.DONE, RunStatus.FAILED):
            return run
        time.sleep(0.2)
    raise AssertionError(
        f"run {run_id} still {run.status} after {RUN_TIMEOUT_SECONDS} s"
    )


def assert_placements_feasible(run: PlanningRun) -> None:
    """Check stored placements against the node rows, without the solver's code."""
    placements = list(run.placements.select_related("node", "bed"))
    assert len(placements) == run.task_count
    assert len({p.task_id for p in placements}) == len(placements)
    demand = defaultdict(float)
    memory = defaultdict(float)
    for placement in placements:
        node = placement.node
        assert node.is_up
        assert node.security_level >= placement.min_security, placement.task_id
        if node.tier == "edge":
            assert node.bed_id == placement.bed_id, placement.task_id
        demand[node.pk] += placement.demand_mips
        memory[node.pk] += placement.memory_mb
    for node in ComputeNode.objects.filter(pk__in=demand):
        assert demand[node.pk] <= node.mips * (1 + 1e-9), node.name
        assert memory[node.pk] <= node.memory_mb * (1 + 1e-9), node.name


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_replay_to_socket_to_celery_placements(
    demo_icu, nurse, celery_worker_process
):
    records = [load_record(path) for path in available_records()[:2]]
    beds = ["icu1-bed01", "icu1-bed02"]
    socket = await communicator(f"/ws/wards/{demo_icu.code}/", nurse)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from(timeout=5))["type"] == "ward.snapshot"

    # A few seconds of two real records, stamped just before now.
    replay = Replay(beds, records)
    end = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    await sync_to_async(replay.backfill)(REPLAY_SECONDS, end)

    expected = sum(len(r.rows[s]) for r in records for s in range(REPLAY_SECONDS))
    assert await sync_to_async(Observation.objects.count)() == expected
    twin = await sync_to_async(TwinState.objects.get)(bed__code="icu1-bed01")
    last_row = records[0].rows[REPLAY_SECONDS - 1]
    assert twin.latest["heart_rate"]["value"] == last_row["heart_rate"]
    assert twin.news2["partial"] is True
    # Every alert raised or acted on sends a frame of its own and takes a
    # sequence number from the bed's twin.
    alert_frames = await sync_to_async(
        AlertAction.objects.filter(alert__bed__code="icu1-bed01").count
    )()
    total_alert_frames = await sync_to_async(AlertAction.objects.count)()
    assert twin.sequence == REPLAY_SECONDS + alert_frames

    frames = [
        await socket.receive_json_from(timeout=5)
        for _ in range(2 * REPLAY_SECONDS + total_alert_frames)
    ]
    alert_updates = [frame for frame in frames if frame["type"] == "alert.updated"]
    assert len(alert_updates) == total_alert_frames
    frames = [frame for frame in frames if frame["type"] == "bed.updated"]
    assert len(frames) == 2 * REPLAY_SECONDS
    latest = {frame["bed"]["bed"]: frame["bed"] for frame in frames}
    assert set(latest) == set(beds)
    assert latest["icu1-bed01"]["sequence"] == REPLAY_SECONDS + alert_frames
    assert (
        latest["icu1-bed01"]["vitals"]["heart_rate"]["value"] == last_row["heart_rate"]
    )
    await socket.disconnect()

    # A risk band change in the replay may already have queued a run, which
    # a manual request then joins, so keep the runs the requests returned.
    runs = {}
    for solver in ("greedy", "exact"):
        run = await sync_to_async(enqueue_run)(demo_icu, solver, Trigger.MANUAL)
        run = await sync_to_async(wait_for_run)(run.pk)
        runs[solver] = run
        assert run.status == RunStatus.DONE, run.error
        assert run.feasible is True
        assert run.task_count == 4 * 12
        await sync_to_async(assert_placements_feasible)(run)
    exact, greedy = runs["exact"], runs["greedy"]
    assert exact.solver_status == "optimal"
    assert exact.objective <= greedy.objective + 1e-9
