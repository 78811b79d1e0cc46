"""launch restarts a child that dies, and gives up on one that crash-loops."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError

from medtwin.management.commands import launch
from medtwin.management.commands.launch import Supervisor

ROOT = Path(__file__).resolve().parents[2]
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


CHILD = """
import os, signal, sys, time
import django
django.setup()
from medtwin.management.commands.launch import _stop_with_parent
done = sys.argv[1]
def on_term(signum, frame):
    open(done, "w").write("terminated")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
_stop_with_parent()
open(done + ".ready", "w").write("ready")
time.sleep(60)
"""
PARENT = "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(60)"


def wait_for(path, seconds=30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.1)
    return False


def test_launch_stops_when_parent_killed(tmp_path):
    done = tmp_path / "done"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "medtwin.test_settings"}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, sys.executable, "-c", CHILD, str(done)],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        assert wait_for(tmp_path / "done.ready")
        parent.kill()
        parent.wait()
        assert wait_for(done)
        assert done.read_text() == "terminated"
    finally:
        parent.kill()
