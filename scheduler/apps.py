import importlib
import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class SchedulerConfig(AppConfig):
    name = "scheduler"
    verbose_name = "Placement scheduler"

    def ready(self):
        from scheduler.receivers import replan_on_risk_band_change

        # twins.signals may be absent from a twin engine that does not send
        # risk band changes; the other re-plan triggers work without it.
        try:
            signals = importlib.import_module("twins.signals")
        except ModuleNotFoundError as error:
            if error.name != "twins.signals":
                raise
            logger.info("twins.signals not found: risk band changes do not re-plan")
            return
        signals.risk_band_changed.connect(
            replan_on_risk_band_change, dispatch_uid="scheduler-risk-band-replan"
        )
