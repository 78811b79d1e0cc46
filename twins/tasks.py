"""Celery tasks of the live twins, run by beat.

``analyse_twins`` fans out one ``analyse_bed`` task per bed with recent data,
so beds are analysed in parallel across workers and one failing bed does not
stop the others. Both are safe to run twice: each rewrites the twin's
forecast and anomalies from the stored readings.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from twins import alerts, analysis
from twins.models import TwinState

logger = logging.getLogger(__name__)

# A bed silent for longer than this is left alone: its signal-lost alert is
# already raised, and there is nothing new to forecast.
ANALYSE_IDLE_SECONDS = 600
TASK_SOFT_TIME_LIMIT_SECONDS = 25
TASK_TIME_LIMIT_SECONDS = 30


@shared_task(
    soft_time_limit=TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=TASK_TIME_LIMIT_SECONDS,
    acks_late=True,
)
def analyse_twins() -> int:
    """Queue an analysis of every bed that had data recently."""
    since = timezone.now() - timedelta(seconds=ANALYSE_IDLE_SECONDS)
    bed_ids = list(
        TwinState.objects.filter(updated_at__gte=since).values_list("bed_id", flat=True)
    )
    for bed_id in bed_ids:
        analyse_bed.delay(bed_id)
    logger.info("analysis queued for %s beds", len(bed_ids))
    return len(bed_ids)


@shared_task(
    soft_time_limit=TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=TASK_TIME_LIMIT_SECONDS,
    acks_late=True,
)
def analyse_bed(bed_id: int) -> list[str]:
    """Refit the forecasts and detect anomalies of one bed."""
    try:
        predicted = analysis.analyse_bed(bed_id)
    except Exception:
        logger.exception("analysis of bed %s failed", bed_id)
        raise
    return sorted(predicted)


@shared_task(
    soft_time_limit=TASK_SOFT_TIME_LIMIT_SECONDS,
    time_limit=TASK_TIME_LIMIT_SECONDS,
    acks_late=True,
)
def escalate_alerts() -> int:
    """Escalate alerts left unacknowledged past their priority's limit."""
    escalated = alerts.escalate_overdue()
    if escalated:
        logger.info("escalated %s alerts", len(escalated))
    return len(escalated)
