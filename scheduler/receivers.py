"""Re-plan when a patient's NEWS2 risk band changes.

The twin engine sends ``twins.signals.risk_band_changed`` after the change
commits. The band sets the urgency of the patient's tasks, so the ward's
placement is re-planned when the urgency changes. Runs still waiting for a
worker absorb the trigger.
"""

import logging

from scheduler.core import scenario
from scheduler.models.runs import Trigger
from twins.models import Bed

logger = logging.getLogger(__name__)


def replan_on_risk_band_change(sender, bed, old_band, new_band, **kwargs):
    from scheduler.tasks import replan

    # The planner counts a bed without a score as low risk, so a first
    # score of "low" changes nothing.
    if _urgency(old_band) == _urgency(new_band):
        return
    bed_row = bed if isinstance(bed, Bed) else Bed.objects.filter(code=bed).first()
    if bed_row is None:
        logger.warning("risk band change for unknown bed %r ignored", bed)
        return
    runs = replan([bed_row.ward], Trigger.RISK_CHANGE)
    logger.info(
        "bed %s risk band %s -> %s; runs %s",
        bed_row.code, old_band, new_band, [run.pk for run in runs],
    )  # fmt: skip


def _urgency(band) -> float | None:
    try:
        return scenario.urgency_for_risk(band or "low")
    except ValueError:
        logger.warning("unknown risk band %r; re-planning anyway", band)
        return None
