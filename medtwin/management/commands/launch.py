"""Start the whole application and stop every process it started on Ctrl-C."""

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

STOP_TIMEOUT_SECONDS = 15


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


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

        processes = {}
        # A SIGTERM (from a process manager or `timeout`) stops everything
        # the same way Ctrl-C does, instead of orphaning the children.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            for name, command in commands.items():
                processes[name] = subprocess.Popen(command, start_new_session=True)
            url = f"http://{options['host']}:{options['port']}/"
            self._print_banner(url, logins)
            self._wait(processes)
        except KeyboardInterrupt:
            self.stdout.write("\nstopping ...")
        finally:
            self._stop(processes)
            self._stop_embedded()

    def _print_banner(self, url, logins):
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"MedTwin is running at {url}"))
        self.stdout.write("Log in as one of the demo users:")
        for name, password in logins.items():
            self.stdout.write(f"  {name:8} password {password}")
        self.stdout.write("Press Ctrl-C to stop every process.\n")

    def _wait(self, processes):
        while True:
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    raise CommandError(f"{name} exited with code {code}; stopping")
            time.sleep(0.5)

    def _stop(self, processes):
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, process in processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def _stop_embedded(self):
        if settings.DATABASE_URL is None:
            embedded.stop_postgres(settings.VAR_DIR / "pgdata")
        if settings.REDIS_SOURCE != "REDIS_URL":
            port = int(settings.REDIS_URL.rsplit(":", 1)[1])
            embedded.stop_redis(settings.VAR_DIR / "redis", port)
        self.stdout.write("stopped")
