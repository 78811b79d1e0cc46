"""Celery application for the scheduler workers and beat."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medtwin.settings")

app = Celery("medtwin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
