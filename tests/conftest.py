"""Shared fixtures: one user per role, the demo ward, and a real Celery worker.

Tests run against real PostgreSQL and Redis (the servers named by
DATABASE_URL and REDIS_URL, or the embedded ones) and, where behaviour
depends on it, a Celery worker in a separate process.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from medtwin.roles import ADMIN, AUDITOR, NURSE, ROLES

ROOT = Path(__file__).resolve().parent.parent
WORKER_START_TIMEOUT_SECONDS = 60
WORKER_IDLE_TIMEOUT_SECONDS = 30
# The running test worker's Celery hostname, set while it is up.
WORKER = {"hostname": None}


def _user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="test-password-1")
    if role is not None:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def role_groups(db):
    for role in ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture
def nurse(db):
    return _user("nurse-1", NURSE)


@pytest.fixture
def admin_user(db):
    return _user("admin-1", ADMIN)


@pytest.fixture
def auditor(db):
    return _user("auditor-1", AUDITOR)


@pytest.fixture
def no_role_user(db):
    return _user("visitor-1", None)


@pytest.fixture
def ward(db, nurse):
    from medtwin.demo import seed_ward

    ward = seed_ward()
    ward.nurses.add(nurse)
    return ward


@pytest.fixture
def demo_icu(ward):
    from scheduler.demo import seed_scheduler

    seed_scheduler(ward)
    return ward


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker in its own process, on the test database and queue."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "medtwin.test_settings"
    env["MEDTWIN_USE_TEST_DATABASE"] = "1"
    env["MEDTWIN_CELERY_QUEUE"] = settings.CELERY_TASK_DEFAULT_QUEUE
    env["MEDTWIN_CHANNEL_PREFIX"] = settings.CHANNEL_LAYERS["default"]["CONFIG"][
        "prefix"
    ]
    log_path = ROOT / "var" / f"test-worker-{os.getpid()}.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "medtwin", "worker",
            "--pool", "solo", "--loglevel", "INFO",
            "--queues", settings.CELERY_TASK_DEFAULT_QUEUE,
            "--hostname", f"test-{os.getpid()}@%h",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"Celery worker did not start; see {log_path}")
        time.sleep(0.2)
    WORKER["hostname"] = f"test-{os.getpid()}@{socket.gethostname()}"
    yield process
    WORKER["hostname"] = None
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(autouse=True)
def worker_idle_before_flush(_django_db_marker, request):
    """Let the Celery worker finish before a transactional test's flush.

    Ingest in such a test can queue a re-plan or an analysis, and the worker
    would then hold row locks while pytest-django truncates every table:
    PostgreSQL resolves that as a deadlock and the flush fails.
    """
    yield
    marker = request.node.get_closest_marker("django_db")
    if WORKER["hostname"] is None or not marker or not marker.kwargs.get("transaction"):
        return
    from medtwin.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    deadline = time.monotonic() + WORKER_IDLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        # A solo-pool worker replies only between tasks, so a reply listing no
        # active task means it is idle.
        replies = app.control.inspect(
            destination=[WORKER["hostname"]], timeout=0.5
        ).active()
        if replies and not any(replies.values()):
            return


@pytest.fixture(scope="session", autouse=True)
def purge_test_queue():
    """Drop messages left in this run's Celery queue when the session ends."""
    yield
    from medtwin.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
