"""launch restarts a child that dies, and gives up on one that crash-loops."""

import sys
import time

import pytest
from django.core.management import CommandError

from medtwin.management.commands import launch
from medtwin.management.commands.launch import Supervisor

QUICK_EXIT = [sys.executable, "-c", "raise SystemExit(3)"]
LONG_RUNNING = [sys.executable, "-c", "import time; time.sleep(60)"]


def wait_for_exit(supervisor, name):
    supervisor.processes[name].wait(timeout=10)


def test_dead_child_restarted_after_delay():
    logs = []
    supervisor = Supervisor({"worker": QUICK_EXIT, "web": LONG_RUNNING}, logs.append)
    supervisor.start()
    try:
        first = supervisor.processes["worker"]
        wait_for_exit(supervisor, "worker")
        now = time.monotonic()
        supervisor.check(now)
        assert "worker exited with code 3; restarting in 1 s" in logs
        supervisor.check(now + 0.5)
        assert supervisor.processes["worker"] is first
        supervisor.check(now + 1.0)
        assert supervisor.processes["worker"] is not first
        assert supervisor.processes["web"].poll() is None
    finally:
        supervisor.stop()


def test_crash_loop_stops_everything(monkeypatch):
    monkeypatch.setattr(launch, "RESTART_FIRST_DELAY_SECONDS", 0.0)
    supervisor = Supervisor({"worker": QUICK_EXIT}, log=lambda line: None)
    supervisor.start()
    now = time.monotonic()
    with pytest.raises(CommandError, match="worker exited 6 times"):
        for step in range(20):
            wait_for_exit(supervisor, "worker")
            supervisor.check(now + step)  # notices the exit
            supervisor.check(now + step)  # restarts it
    supervisor.stop()
