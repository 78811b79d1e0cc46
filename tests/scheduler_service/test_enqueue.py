"""Queueing planning runs: after commit, and coalesced per ward and solver."""

import pytest

from scheduler.models import PlanningRun
from scheduler.models.runs import RunStatus, Trigger
from scheduler.tasks import enqueue_run


@pytest.mark.django_db
def test_enqueue_burst_coalesces_into_one_run(demo_icu, admin_user):
    first = enqueue_run(demo_icu, "greedy", Trigger.SCHEDULE)
    again = enqueue_run(demo_icu, "greedy", Trigger.MANUAL, requested_by=admin_user)
    assert again.pk == first.pk
    assert PlanningRun.objects.filter(status=RunStatus.PENDING).count() == 1


@pytest.mark.django_db
def test_enqueue_other_solver_gets_own_run(demo_icu):
    greedy = enqueue_run(demo_icu, "greedy", Trigger.SCHEDULE)
    exact = enqueue_run(demo_icu, "exact", Trigger.SCHEDULE)
    assert greedy.pk != exact.pk


@pytest.mark.django_db
def test_enqueue_after_claim_creates_new_run(demo_icu):
    first = enqueue_run(demo_icu, "greedy", Trigger.SCHEDULE)
    PlanningRun.objects.filter(pk=first.pk).update(status=RunStatus.RUNNING)
    second = enqueue_run(demo_icu, "greedy", Trigger.SCHEDULE)
    assert second.pk != first.pk
