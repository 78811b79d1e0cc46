"""Start the whole application and stop every process it started on Ctrl-C."""

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from medtwin import embedded
from medtwin.demo import seed_demo

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 15
# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
# A child that dies is started again after a pause that doubles up to the
# cap. One that dies this many times within the window is crash-looping, so
# launch then stops everything rather than hide the fault.
RESTART_FIRST_DELAY_SECONDS = 1.0
RESTART_MAX_DELAY_SECONDS = 30.0
CRASH_LOOP_RESTARTS = 5
CRASH_LOOP_WINDOW_SECONDS = 120.0


class Supervisor:
    """Keep a set of child processes running, restarting any that exits."""

    def __init__(self, commands: dict[str, list[str]], log=print):
        self.commands = commands
        self.log = log
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, list[float]] = {name: [] for name in commands}
        self.due: dict[str, float] = {}

    def start(self) -> None:
        for name in self.commands:
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        self.processes[name] = subprocess.Popen(
            self.commands[name], start_new_session=True
        )

    def check(self, now: float | None = None) -> None:
        """Restart children that exited; raise CommandError on a crash loop."""
        now = time.monotonic() if now is None else now
        for name, process in self.processes.items():
            if name in self.due:
                if now >= self.due[name]:
                    del self.due[name]
                    self.log(f"restarting {name}")
                    self._spawn(name)
                continue
            code = process.poll()
            if code is None:
                continue
            recent = [
                at for at in self.restarts[name] if now - at < CRASH_LOOP_WINDOW_SECONDS
            ]
            recent.append(now)
            self.restarts[name] = recent
            if len(recent) > CRASH_LOOP_RESTARTS:
                raise CommandError(
                    f"{name} exited {len(recent)} times within "
                    f"{CRASH_LOOP_WINDOW_SECONDS:g} s (last code {code}); stopping"
                )
            delay = min(
                RESTART_FIRST_DELAY_SECONDS * 2 ** (len(recent) - 1),
                RESTART_MAX_DELAY_SECONDS,
            )
            self.log(f"{name} exited with code {code}; restarting in {delay:g} s")
            self.due[name] = now + delay

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{name} did not stop in time; killing it")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent process (make) exits.

    A signal sent to make alone, as ``timeout`` or ``kill`` do, would
    otherwise leave launch and every child running without a parent.
    """
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())


class Command(BaseCommand):
    help = (
        "Migrate, seed the demo ICU, then run the ASGI web server, a Celery "
        "worker, Celery beat and the vitals replay until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to bind")
        parser.add_argument("--port", type=int, default=8000, help="HTTP port")
        parser.add_argument(
            "--no-replay", action="store_true", help="do not stream the recordings"
        )

    def handle(self, *args, **options):
        if not 1 <= options["port"] <= 65535:
            raise CommandError(f"--port {options['port']} is invalid: use 1 to 65535")
        self.stdout.write(f"database: {settings.DATABASE_SOURCE}")
        self.stdout.write(f"redis: {settings.REDIS_SOURCE}")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        ward, logins = seed_demo(settings.VAR_DIR / "demo-logins.txt")

        python = sys.executable
        commands = {
            "web": [
                python, "-m", "daphne", "-b", options["host"],
                "-p", str(options["port"]), "medtwin.asgi:application",
            ],
            "worker": [
                python, "-m", "celery", "-A", "medtwin", "worker",
                "--loglevel", "INFO", "--concurrency", "2",
                "--queues", settings.CELERY_TASK_DEFAULT_QUEUE,
            ],
            "beat": [
                python, "-m", "celery", "-A", "medtwin", "beat", "--loglevel", "INFO",
                "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }  # fmt: skip
        if not options["no_replay"]:
            commands["replay"] = [
                python, "manage.py", "replay_vitals", "--ward", ward.code,
            ]  # fmt: skip

        supervisor = Supervisor(commands, log=self.stderr.write)
        # A SIGTERM (from a process manager or `timeout`) stops everything
        # the same way Ctrl-C does, instead of orphaning the children.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        _stop_with_parent()
        try:
            supervisor.start()
            url = f"http://{options['host']}:{options['port']}/"
            self._print_banner(url, logins)
            while True:
                supervisor.check()
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nstopping ...")
        finally:
            supervisor.stop()
            self._stop_embedded()

    def _print_banner(self, url, logins):
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"MedTwin is running at {url}"))
        self.stdout.write("Log in as one of the demo users:")
        for name, password in logins.items():
            self.stdout.write(f"  {name:8} password {password}")
        self.stdout.write("Press Ctrl-C to stop every process.\n")

    def _stop_embedded(self):
        if settings.DATABASE_URL is None:
            embedded.stop_postgres(settings.VAR_DIR / "pgdata")
        if settings.REDIS_SOURCE != "REDIS_URL":
            port = int(settings.REDIS_URL.rsplit(":", 1)[1])
            embedded.stop_redis(settings.VAR_DIR / "redis", port)
        self.stdout.write("stopped")
