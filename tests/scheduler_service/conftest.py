"""Fixtures of the scheduler service tests: planned runs and Celery workers."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from scheduler.models import PlanningRun
from scheduler.models.runs import RunStatus, Trigger
from scheduler.tasks import enqueue_run, plan_ward

ROOT = Path(__file__).resolve().parents[2]
WORKER_START_TIMEOUT_SECONDS = 60
RUN_TIMEOUT_SECONDS = 90


def plan_now(ward, solver: str = "exact", trigger: str = Trigger.MANUAL):
    """Queue a run, execute its task in this process and return the stored run."""
    run = enqueue_run(ward, solver, trigger)
    PlanningRun.objects.filter(pk=run.pk).update(time_limit_s=5)
    plan_ward(run.pk)
    return PlanningRun.objects.get(pk=run.pk)


def wait_for_run(run_id: int, timeout: float = RUN_TIMEOUT_SECONDS) -> PlanningRun:
    deadline = time.monotonic() + timeout
    while True:
        run = PlanningRun.objects.get(pk=run_id)
        if run.status in (RunStatus.DONE, RunStatus.FAILED):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run.status} after {timeout} s")
        time.sleep(0.2)


@pytest.fixture
def planned_run(demo_icu):
    run = plan_now(demo_icu, "exact")
    assert run.status == RunStatus.DONE, run.error
    return run


@pytest.fixture
def fast_replans(settings):
    """Re-plan with the greedy solver only, in this process.

    A worker process keeps the scheduled solvers of its own settings.
    """
    settings.SCHEDULED_SOLVERS = ["greedy"]
    return settings


class Worker:
    """A Celery worker process started by a test on a queue of its own."""

    def __init__(self, queue: str, log_path: Path, pool: str = "prefork"):
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = "medtwin.test_settings"
        env["MEDTWIN_USE_TEST_DATABASE"] = "1"
        env["MEDTWIN_CELERY_QUEUE"] = queue
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "medtwin", "worker",
                "--pool", pool, "--concurrency", "1", "--loglevel", "INFO",
                "--queues", queue, "--hostname", f"{queue}@%h",
                "--without-heartbeat", "--without-gossip", "--without-mingle",
            ],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
        while "ready." not in log_path.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Celery worker did not start; see {log_path}")
            time.sleep(0.2)

    def pool_children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def kill_child(self) -> int:
        children = self.pool_children()
        assert len(children) == 1, children
        os.kill(children[0], signal.SIGKILL)
        return children[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def own_worker(django_db_setup):
    """Start a prefork worker with one pool process on a queue of its own."""
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-own"
    log_path = ROOT / "var" / f"test-own-worker-{os.getpid()}.log"
    log_path.parent.mkdir(exist_ok=True)
    worker = Worker(queue, log_path)
    worker.queue = queue
    yield worker
    worker.stop()
    from medtwin.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
