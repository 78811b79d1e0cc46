"""Planning under faults: queued inside a transaction, no node can run a task,
every node full. The last two run in the pure core with 100 twins."""

import dataclasses

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from medtwin.celery import app as celery_app
from scheduler import core
from scheduler.audit import verify_chain
from scheduler.core import scenario
from scheduler.models import ComputeNode, PlanningRun
from scheduler.models.runs import RunStatus, Trigger
from scheduler.planning import build_problem
from scheduler.tasks import enqueue_run, plan_ward, resend_stale_runs


@pytest.fixture
def broker():
    """Send planning tasks to a queue no worker reads, to count them there."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-unread"
    default = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    client.delete(queue)
    yield client, queue
    celery_app.conf.task_default_queue = default
    client.delete(queue)


@pytest.mark.django_db(transaction=True)
def test_run_queued_only_after_commit(demo_icu, broker):
    client, queue = broker
    with transaction.atomic():
        run = enqueue_run(demo_icu, "greedy", Trigger.MANUAL)
        assert client.llen(queue) == 0
    assert client.llen(queue) == 1
    assert run.pk is not None


@pytest.mark.django_db(transaction=True)
def test_rolled_back_request_queues_nothing(demo_icu, broker):
    client, queue = broker
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_run(demo_icu, "greedy", Trigger.MANUAL)
        raise RuntimeError("request failed after queuing")
    assert client.llen(queue) == 0


@pytest.fixture(scope="module")
def hundred_twins():
    return scenario.icu_scenario(100, seed=3)


@pytest.mark.parametrize("solver", ["greedy", "hybrid", "exact"])
def test_security_no_node_has_named(hundred_twins, solver):
    """A task needing a security level above every node's is reported."""
    tasks = list(hundred_twins.tasks)
    tasks[17] = dataclasses.replace(tasks[17], min_security=5)
    nodes = [
        dataclasses.replace(node, security_level=min(node.security_level, 4))
        for node in hundred_twins.nodes
    ]
    problem = dataclasses.replace(hundred_twins, tasks=tasks, nodes=nodes)
    result = core.solve(problem, solver=solver, time_limit_s=5, seed=1)
    assert result.status is core.Status.INFEASIBLE
    assert not result.feasible
    reasons = " ".join(result.reasons)
    assert tasks[17].id in reasons
    assert "security" in reasons


@pytest.mark.parametrize("solver", ["greedy", "hybrid"])
def test_every_node_full_reported(hundred_twins, solver):
    """With a tenth of the compute, the 400 tasks of 100 twins cannot fit."""
    nodes = [
        dataclasses.replace(node, mips=node.mips / 10) for node in hundred_twins.nodes
    ]
    problem = dataclasses.replace(hundred_twins, nodes=nodes)
    result = core.solve(problem, solver=solver, time_limit_s=5, seed=1)
    assert not result.feasible
    assert result.status in (core.Status.INFEASIBLE, core.Status.NOT_SOLVED)
    assert result.reasons


@pytest.fixture
def large_ward(db):
    """A 100-bed ward with the demo inventory, its patients at mixed risk."""
    from scheduler.demo import seed_scheduler
    from twins.models import Bed, Patient, TwinState, Ward

    ward = Ward.objects.create(code="big-1", name="Large ward")
    bands = ["low", "low-medium", "medium", "high"]
    for number in range(1, 101):
        bed = Bed.objects.create(
            ward=ward, code=f"big1-bed{number:03d}", label=f"Bed {number}"
        )
        TwinState.objects.create(bed=bed, news2={"band": bands[number % 4]})
        Patient.objects.create(
            pseudonym=f"PT-BIG{number:03d}", bed=bed, admitted_at=timezone.now()
        )
    seed_scheduler(ward)
    return ward


@pytest.mark.django_db(transaction=True)
def test_time_limited_run_falls_back(large_ward, broker):
    run = enqueue_run(large_ward, "exact", Trigger.MANUAL)
    PlanningRun.objects.filter(pk=run.pk).update(time_limit_s=0.05)
    plan_ward(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert "time limit" in run.fallback
    assert ("stored the greedy placement" in run.fallback) or (
        "kept its placement" in run.fallback
    )
    planned = build_problem(large_ward)
    stored = dict(run.placements.values_list("task_id", "node__name"))
    assert len(stored) == len(planned.problem.tasks) == 400
    assert core.check_feasibility(planned.problem, stored) == []
    assert verify_chain().intact


@pytest.mark.django_db(transaction=True)
def test_no_secure_node_run_fails_and_names_tasks(demo_icu, broker):
    first = enqueue_run(demo_icu, "greedy", Trigger.MANUAL)
    plan_ward(first.pk)
    kept = set(first.placements.values_list("task_id", "node__name"))
    assert kept

    ComputeNode.objects.update(security_level=1)
    run = enqueue_run(demo_icu, "exact", Trigger.MANUAL)
    plan_ward(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.solver_status == "infeasible"
    assert "security" in run.error
    assert "icu1-bed01/risk_inference" in run.error
    assert run.placements.count() == 0
    assert set(first.placements.values_list("task_id", "node__name")) == kept


@pytest.mark.django_db(transaction=True)
def test_lost_message_sent_again_then_given_up(demo_icu, broker):
    client, queue = broker
    run = enqueue_run(demo_icu, "greedy", Trigger.MANUAL)
    client.delete(queue)  # the message is lost
    assert resend_stale_runs() == 0

    PlanningRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=2)
    )
    assert resend_stale_runs() == 1
    assert client.llen(queue) == 1

    PlanningRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timezone.timedelta(hours=1)
    )
    resend_stale_runs()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "no worker took the run" in run.error
    assert enqueue_run(demo_icu, "greedy", Trigger.MANUAL).pk != run.pk
