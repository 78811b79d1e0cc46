"""Planning with real Celery workers: a killed worker, coalescing under load,
node failure and the hybrid policy across runs."""

import time
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from scheduler.audit import verify_chain
from scheduler.models import ComputeNode, HybridPolicy, Placement, PlanningRun
from scheduler.models.runs import RunStatus, Trigger
from scheduler.tasks import check_heartbeats, enqueue_run, plan_ward, replan
from tests.scheduler_service.conftest import wait_for_run

BLOCK_TIMEOUT_SECONDS = 60


@contextmanager
def placement_table_locked():
    """Hold a lock that makes every INSERT into the placement table wait.

    A run's worker then stops inside its final transaction, after solving and
    with the run row locked: the moment a crash does the most harm.
    """
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as locker:
        locker.execute("LOCK TABLE scheduler_placement IN SHARE MODE")
        yield
        locker.rollback()


def wait_for_blocked_insert() -> None:
    deadline = time.monotonic() + BLOCK_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                "current_database() AND wait_event_type = 'Lock' "
                "AND query LIKE 'INSERT INTO \"scheduler_placement\"%%'"
            )
            if cursor.fetchone()[0] == 1:
                return
        time.sleep(0.1)
    raise AssertionError("no worker reached the placement insert")


def assert_stored_once(run: PlanningRun) -> None:
    placements = Placement.objects.filter(run=run)
    assert placements.count() == run.task_count
    assert placements.values("task_id").distinct().count() == run.task_count


@pytest.mark.django_db(transaction=True)
def test_killed_worker_run_retried_once(demo_icu, own_worker):
    run = PlanningRun.objects.create(
        ward=demo_icu, solver="exact", trigger=Trigger.MANUAL, time_limit_s=5
    )
    with placement_table_locked():
        plan_ward.apply_async((run.pk,), queue=own_worker.queue)
        wait_for_blocked_insert()
        run.refresh_from_db()
        assert run.status == RunStatus.RUNNING
        assert run.attempts == 1
        own_worker.kill_child()
    run = wait_for_run(run.pk)
    assert run.status == RunStatus.DONE, run.error
    assert run.attempts == 2
    assert_stored_once(run)
    report = verify_chain()
    assert report.intact, report.reason
    assert report.checked == 1
    assert "WorkerLostError" in own_worker.log_path.read_text()


@pytest.mark.django_db(transaction=True)
def test_burst_during_busy_worker_gives_one_run(demo_icu, fast_replans,
                                                celery_worker_process):  # fmt: skip
    with placement_table_locked():
        (busy,) = replan([demo_icu], Trigger.SCHEDULE)
        wait_for_blocked_insert()
        burst = [
            Trigger.WEIGHT_CHANGE, Trigger.RISK_CHANGE, Trigger.NODE_DOWN,
            Trigger.RISK_CHANGE, Trigger.INVENTORY_CHANGE,
        ]  # fmt: skip
        queued = {run.pk for trigger in burst for run in replan([demo_icu], trigger)}
        assert len(queued) == 1
        assert busy.pk not in queued
    (follow_up,) = queued
    assert wait_for_run(busy.pk).status == RunStatus.DONE
    follow_up = wait_for_run(follow_up)
    assert follow_up.status == RunStatus.DONE, follow_up.error
    assert follow_up.trigger == Trigger.WEIGHT_CHANGE
    assert PlanningRun.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_node_failure_moves_tasks_in_one_replan(demo_icu, fast_replans,
                                                celery_worker_process):  # fmt: skip
    first = wait_for_run(enqueue_run(demo_icu, "greedy", Trigger.MANUAL).pk)
    assert first.status == RunStatus.DONE, first.error
    node = ComputeNode.objects.get(name="fog-icu-1-1")
    on_node = set(first.placements.filter(node=node).values_list("task_id", flat=True))
    assert on_node, "the first plan put nothing on the fog server"

    node.issue_heartbeat_token()
    ComputeNode.objects.filter(pk=node.pk).update(
        last_heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    check_heartbeats.delay()
    deadline = time.monotonic() + 60
    while not PlanningRun.objects.filter(trigger=Trigger.NODE_DOWN).exists():
        assert time.monotonic() < deadline, "no re-plan after the missed heartbeat"
        time.sleep(0.2)
    node.refresh_from_db()
    assert node.is_up is False
    # The worker re-plans with each of its scheduled solvers, once each.
    replans = list(PlanningRun.objects.filter(trigger=Trigger.NODE_DOWN))
    solvers = [run.solver for run in replans]
    assert len(solvers) == len(set(solvers))
    for run in replans:
        run = wait_for_run(run.pk)
        assert run.status == RunStatus.DONE, run.error
        assert not run.placements.filter(node=node).exists(), run.solver
        assert_stored_once(run)
        moved = set(
            run.placements.filter(task_id__in=on_node).values_list("task_id", flat=True)
        )
        assert moved == on_node
    assert PlanningRun.objects.count() == 1 + len(replans)


@pytest.mark.django_db(transaction=True)
def test_hybrid_policy_learns_across_runs(demo_icu, celery_worker_process):
    runs = []
    for _ in range(2):
        run = enqueue_run(demo_icu, "hybrid", Trigger.MANUAL)
        PlanningRun.objects.filter(pk=run.pk).update(time_limit_s=2)
        runs.append(wait_for_run(run.pk))
        assert runs[-1].status == RunStatus.DONE, runs[-1].error
        policy = HybridPolicy.objects.get(ward=demo_icu)
        # The worker process reads the stored policy anew for every run, so
        # the count grows only if each run started from the stored one.
        assert policy.updates == len(runs)
        assert policy.last_run_id == runs[-1].pk
        assert policy.data["updates"] == len(runs)
    assert policy.data["preferences"], "the policy learned no preference"


@pytest.mark.django_db(transaction=True)
def test_chain_detects_edited_worker_run(demo_icu, fast_replans,
                                                celery_worker_process):  # fmt: skip
    from django.core.management import call_command
    from django.core.management.base import CommandError

    run = wait_for_run(enqueue_run(demo_icu, "greedy", Trigger.MANUAL).pk)
    assert verify_chain().intact
    placement = run.placements.first()
    Placement.objects.filter(pk=placement.pk).update(latency_ms=0.5)
    with pytest.raises(CommandError, match=f"run {run.pk}"):
        call_command("verify_placement_log")


@pytest.mark.django_db(transaction=True)
def test_weight_change_to_explained_run(
    client, admin_user, auditor, demo_icu, fast_replans, celery_worker_process
):
    """Admin previews and applies weights, then the auditor reads the new run."""
    first = wait_for_run(enqueue_run(demo_icu, "greedy", Trigger.MANUAL).pk)
    assert first.status == RunStatus.DONE, first.error
    form = {"profile": "security", "reason": "data protection review"}
    client.force_login(admin_user)
    preview = client.post("/scheduler/weights/", form | {"action": "preview"})
    assert preview.status_code == 200
    assert PlanningRun.objects.count() == 1
    applied = client.post("/scheduler/weights/", form | {"action": "apply"})
    assert applied.status_code == 302

    (queued,) = PlanningRun.objects.filter(trigger=Trigger.WEIGHT_CHANGE)
    run = wait_for_run(queued.pk)
    assert run.status == RunStatus.DONE, run.error
    assert run.weights["profile"] == "security"

    client.force_login(auditor)
    task_id = run.placements.first().task_id
    data = client.get(
        f"/scheduler/runs/{run.pk}/placements/{task_id}?format=json"
    ).json()
    assert data["weights"] == {"latency": 0.2, "cost": 0.2, "security": 0.6}
    assert data["alternatives"]
    changes = client.get("/scheduler/changes/").content.decode()
    assert "data protection review" in changes
