import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class MedtwinConfig(AppConfig):
    name = "medtwin"
    verbose_name = "MedTwin"

    def ready(self):
        logger.info(
            "database: %s; redis: %s", settings.DATABASE_SOURCE, settings.REDIS_SOURCE
        )
