"""Benchmark: time from a re-plan trigger to stored placements.

Usage:
    python scripts/bench_replan.py [--beds 12 100] [--solvers greedy exact]
        [--repeats 3] [--keep]

For each bed count the script builds a scratch hospital in a new database
``medtwin_bench_<pid>`` on the PostgreSQL server that ``DATABASE_URL``
names: wards of 12 beds with admitted patients and the demo node inventory
(an edge device per bed, two fog servers per ward, two shared cloud
regions). It starts one Celery worker (solo pool) on a queue of its own and
then, per solver and repeat:

- ward: queues a run of the first ward, as a trigger does, and waits until
  its placements are stored;
- hospital: queues one run that plans every ward as one problem;
- every ward: queues a run per ward at once, as a weight change does, and
  waits until the last is stored.

The time is taken from just before the trigger's commit to the moment the
script finds the run done, polled every 10 ms, so it includes the broker,
the worker's claim, building the problem, solving, and the one
transaction that writes placements and the hash chain. It prints a table
with the machine, and drops the scratch database unless ``--keep``.
The exact solver stops at ``MEDTWIN_EXACT_TIME_LIMIT_SECONDS`` (default 20).
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.common import cpu_model  # noqa: E402

BEDS_PER_WARD = 12
POLL_SECONDS = 0.01
RUN_TIMEOUT_SECONDS = 600
WORKER_START_TIMEOUT_SECONDS = 60


def scratch_database(base_url: str) -> tuple[str, str]:
    """Create a new database next to ``base_url``'s; return its URL and name."""
    name = f"medtwin_bench_{os.getpid()}"
    parts = urlsplit(base_url)
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def drop_database(base_url: str, name: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(beds: int):
    from django.utils import timezone

    from scheduler.demo import seed_scheduler
    from twins.models import Bed, Patient, TwinState, Ward

    wards = []
    for index, start in enumerate(range(0, beds, BEDS_PER_WARD), 1):
        ward = Ward.objects.create(code=f"bench-{beds}-{index}", name=f"Bench {index}")
        for number in range(1, min(BEDS_PER_WARD, beds - start) + 1):
            bed = Bed.objects.create(
                ward=ward, code=f"{ward.code}-bed{number:02d}", label=f"Bed {number}"
            )
            TwinState.objects.create(bed=bed)
            Patient.objects.create(
                pseudonym=f"BENCH-{beds}-{index}-{number}",
                bed=bed,
                admitted_at=timezone.now(),
            )
        seed_scheduler(ward)
        wards.append(ward)
    return wards


def start_worker(env: dict, queue: str, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "medtwin", "worker",
            "--pool", "solo", "--loglevel", "WARNING", "--queues", queue,
            "--hostname", f"{queue}@%h",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    from medtwin.celery import app

    deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
    while not app.control.ping(destination=[f"{queue}@{platform.node()}"]):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the Celery worker did not start; see {log_path}")
        time.sleep(0.5)
    return process


def timed(trigger) -> float:
    """Run ``trigger`` (which queues runs) and wait until every run is stored."""
    from scheduler.models import PlanningRun
    from scheduler.models.runs import RunStatus

    started = time.perf_counter()
    runs = trigger()
    pending = {run.pk for run in runs}
    while pending:
        finished = PlanningRun.objects.filter(
            pk__in=pending, status__in=(RunStatus.DONE, RunStatus.FAILED)
        )
        for run in finished:
            if run.status == RunStatus.FAILED:
                raise SystemExit(f"run {run.pk} failed: {run.error}")
            pending.discard(run.pk)
        if time.perf_counter() - started > RUN_TIMEOUT_SECONDS:
            raise SystemExit(
                f"runs {sorted(pending)} timed out after {RUN_TIMEOUT_SECONDS} s"
            )
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def bench(beds: int, solvers: list[str], repeats: int) -> list[tuple]:
    from scheduler.models.runs import Trigger
    from scheduler.tasks import enqueue_run

    wards = seed(beds)
    cases = {"ward": lambda solver: [enqueue_run(wards[0], solver, Trigger.MANUAL)]}
    if len(wards) > 1:
        cases["hospital"] = lambda solver: [enqueue_run(None, solver, Trigger.MANUAL)]
        cases["every ward"] = lambda solver: [
            enqueue_run(ward, solver, Trigger.MANUAL) for ward in wards
        ]
    rows = []
    for case, trigger in cases.items():
        for solver in solvers:
            seconds = [
                timed(lambda trigger=trigger, solver=solver: trigger(solver))
                for _ in range(repeats)
            ]
            planned = beds if case != "ward" else min(beds, BEDS_PER_WARD)
            rows.append((beds, case, planned, solver, seconds))
            print(
                f"{beds} beds, {case}: {solver} median "
                f"{statistics.median(seconds):.2f} s",
                file=sys.stderr,
            )
    return rows


def machine() -> str:
    cpu = cpu_model()
    return f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beds", type=int, nargs="+", default=[12, 100])
    parser.add_argument(
        "--solvers", nargs="+", default=["greedy", "exact"],
        choices=["greedy", "exact", "hybrid"],
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    if any(beds < 1 for beds in args.beds) or args.repeats < 1:
        parser.error("--beds and --repeats take whole numbers >= 1")
    base_url = os.environ.get("DATABASE_URL")
    if not base_url:
        parser.error("DATABASE_URL is missing: name the PostgreSQL server to use")

    url, name = scratch_database(base_url)
    queue = f"medtwin-bench-{os.getpid()}"
    os.environ.update(
        DATABASE_URL=url,
        MEDTWIN_CELERY_QUEUE=queue,
        DJANGO_SETTINGS_MODULE="medtwin.settings",
    )
    worker = None
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        log_path = ROOT / "var" / f"bench-worker-{os.getpid()}.log"
        log_path.parent.mkdir(exist_ok=True)
        worker = start_worker(dict(os.environ), queue, log_path)
        rows = []
        for beds in args.beds:
            rows += bench(beds, args.solvers, args.repeats)
        print(f"machine: {machine()}")
        print(
            f"exact time limit {settings.EXACT_TIME_LIMIT_SECONDS} s, "
            f"{args.repeats} repeats, one solo-pool worker"
        )
        print("| beds | trigger | beds planned | solver | median s | min s | max s |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for beds, case, planned, solver, seconds in rows:
            print(
                f"| {beds} | {case} | {planned} | {solver} | "
                f"{statistics.median(seconds):.2f} | {min(seconds):.2f} | "
                f"{max(seconds):.2f} |"
            )
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(base_url, name)


if __name__ == "__main__":
    main()
