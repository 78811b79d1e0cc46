"""Celery tasks that plan where each ward's twin tasks run.

A run is a row first and a Celery message second: the row is created in the
request's transaction and the message is sent after it commits. The task
claims the row with a conditional UPDATE, solves, and writes the placements
and the outcome in one transaction, so a worker killed mid-run leaves the row
claimable and no half-written placements. Messages are acknowledged late, so
a run whose worker died is delivered again.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from scheduler.audit import seal
from scheduler.models import PlanningRun
from scheduler.models.runs import RunStatus, Trigger
from scheduler.planning import PlanningError, build_problem, solve_and_store
from twins.models import Ward

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# A pending run's message may be lost (a Redis restart without persistence,
# a worker killed before acknowledging it is redelivered only after the
# broker's visibility timeout). Pending this long, the message is sent again;
# the claim makes a duplicate harmless.
RESEND_PENDING_AFTER_SECONDS = 60
# A run still running this long after its claim outlived the task's hard
# time limit, so its worker is gone and the message is sent again.
RESEND_RUNNING_AFTER_SECONDS = 360
# Pending this long, the run is failed so it no longer absorbs new triggers.
GIVE_UP_PENDING_AFTER_SECONDS = 900


def enqueue_run(
    ward: Ward | None, solver: str, trigger: str, requested_by=None
) -> PlanningRun:
    """Queue a run, or return the run already waiting for this ward and solver.

    ``ward`` None plans the whole hospital. The task is sent once the
    surrounding transaction commits, so a worker never looks for a run row
    that is not yet visible.
    """
    scope = ward.code if ward is not None else "hospital"
    # Two attempts: the waiting run may be claimed by a worker between the
    # failed insert and the look-up, and then a new insert succeeds.
    for _attempt in range(2):
        try:
            with transaction.atomic():
                run = PlanningRun.objects.create(
                    ward=ward,
                    solver=solver,
                    trigger=trigger,
                    requested_by=requested_by,
                    time_limit_s=settings.EXACT_TIME_LIMIT_SECONDS,
                )
                plan_ward.delay_on_commit(run.pk)
            break
        except IntegrityError:
            waiting = PlanningRun.objects.filter(
                ward=ward, solver=solver, status=RunStatus.PENDING
            ).first()
            if waiting is not None:
                logger.info(
                    "%s trigger for %s coalesced into run %s",
                    trigger, scope, waiting.pk,
                )  # fmt: skip
                return waiting
    else:
        raise RuntimeError(f"could not queue a {solver} run for {scope}")
    logger.info("run %s queued for %s with %s (%s)", run.pk, scope, solver, trigger)
    return run


def _claim(run_id: int, task_id: str) -> bool:
    # A run left "running" by a worker that died is claimable again; a done
    # or failed run is not, so a redelivered message changes nothing.
    claimed = PlanningRun.objects.filter(
        Q(status=RunStatus.PENDING) | Q(status=RunStatus.RUNNING),
        pk=run_id,
        attempts__lt=MAX_ATTEMPTS,
    ).update(
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
        celery_task_id=task_id or "",
    )
    return claimed == 1


def _fail(run_id: int, message: str) -> None:
    with transaction.atomic():
        run = PlanningRun.objects.select_for_update().get(pk=run_id)
        if run.status in (RunStatus.DONE, RunStatus.FAILED):
            return
        run.status = RunStatus.FAILED
        run.finished_at = timezone.now()
        run.error = message
        run.save(update_fields=["status", "finished_at", "error"])
        seal(run)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=240,
    time_limit=300,
)
def plan_ward(run_id: int) -> str:
    from celery import current_task

    task_id = current_task.request.id if current_task else ""
    if not _claim(run_id, task_id):
        run = PlanningRun.objects.filter(pk=run_id).first()
        if run is not None and run.status == RunStatus.RUNNING:
            _fail(run_id, f"gave up after {MAX_ATTEMPTS} attempts")
        logger.info("run %s not claimed (task %s)", run_id, task_id)
        return "skipped"

    run = PlanningRun.objects.select_related("ward").get(pk=run_id)
    logger.info(
        "run %s started: %s, solver %s, attempt %s, task %s",
        run.pk, run.scope, run.solver, run.attempts, task_id,
    )  # fmt: skip
    try:
        planned = build_problem(run.ward)
        outcome = solve_and_store(run, planned)
    except PlanningError as error:
        logger.warning("run %s failed: %s", run_id, error)
        _fail(run_id, str(error))
        return "failed"
    except Exception as error:
        logger.exception("run %s failed unexpectedly", run_id)
        _fail(run_id, f"{type(error).__name__}: {error}")
        return "failed"
    logger.info("run %s finished: %s", run_id, outcome)
    return outcome


def replan(wards, trigger: str, requested_by=None) -> list[PlanningRun]:
    """Queue a run of each scheduled solver for each of ``wards``.

    A ``None`` in ``wards`` plans the whole hospital. Runs still waiting for
    a worker absorb the trigger, so a burst of triggers before a worker
    starts gives one run per ward and solver.
    """
    return [
        enqueue_run(ward, solver, trigger, requested_by)
        for ward in wards
        for solver in settings.SCHEDULED_SOLVERS
    ]


@shared_task(acks_late=True, soft_time_limit=30, time_limit=60)
def resend_stale_runs() -> int:
    """Send the message of each stale pending or running run again (beat).

    Returns how many were sent again. Runs pending for too long are failed,
    so the next trigger queues a fresh run instead of joining a dead one.
    """
    now = timezone.now()
    for run in PlanningRun.objects.filter(
        status=RunStatus.PENDING,
        created_at__lt=now - timezone.timedelta(seconds=GIVE_UP_PENDING_AFTER_SECONDS),
    ):
        logger.warning("run %s pending since %s: failed", run.pk, run.created_at)
        _fail(
            run.pk,
            f"no worker took the run within {GIVE_UP_PENDING_AFTER_SECONDS} s",
        )
    stale = PlanningRun.objects.filter(
        Q(
            status=RunStatus.PENDING,
            created_at__lt=now
            - timezone.timedelta(seconds=RESEND_PENDING_AFTER_SECONDS),
        )
        | Q(
            status=RunStatus.RUNNING,
            started_at__lt=now
            - timezone.timedelta(seconds=RESEND_RUNNING_AFTER_SECONDS),
        ),
        attempts__lt=MAX_ATTEMPTS,
    )
    count = 0
    for run in stale:
        logger.warning("run %s still %s: message sent again", run.pk, run.status)
        plan_ward.delay(run.pk)
        count += 1
    return count


@shared_task(acks_late=True, soft_time_limit=30, time_limit=60)
def schedule_replans() -> int:
    """Queue one run per ward and scheduled solver (Celery beat)."""
    return len(replan(Ward.objects.all(), Trigger.SCHEDULE))


@shared_task(acks_late=True, soft_time_limit=30, time_limit=60)
def check_heartbeats() -> int:
    """Mark monitored nodes with a missed heartbeat down and re-plan (beat)."""
    from scheduler.heartbeats import mark_silent_nodes_down

    return len(mark_silent_nodes_down())
