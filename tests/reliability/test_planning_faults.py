"""Planning under faults: queued inside a transaction, no node can run a task,
every node full. The last two run in the pure core with 100 twins."""

import dataclasses

import pytest
import redis
from django.conf import settings
from django.db import transaction

from medtwin.celery import app as celery_app
from scheduler import core
from scheduler.core import scenario
from scheduler.models.runs import Trigger
from scheduler.tasks import enqueue_run


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
