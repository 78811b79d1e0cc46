"""Settings read from the environment: bad values stop start-up, production is safe."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def run_manage(*args, **env):
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "medtwin.settings", **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MEDTWIN_DEPLOYMENT", "staging", "use one of development, production"),
        ("DJANGO_DEBUG", "maybe", "use one of 1, 0, true, false"),
        ("MEDTWIN_REPLAN_INTERVAL_SECONDS", "0", "from 5 to 86400"),
        ("MEDTWIN_CHANNEL_CAPACITY", "lots", "whole number"),
        ("MEDTWIN_TIME_ZONE", "Mars/Olympus", "IANA zone name"),
        ("DATABASE_URL", "sqlite:///x.db", "use a postgres:// or postgresql:// URL"),
        ("MEDTWIN_SCHEDULED_SOLVERS", "exact,magic", "use exact, greedy or hybrid"),
        ("MEDTWIN_HISTORY_CONCURRENCY", "0", "from 1 to 64"),
        ("MEDTWIN_HISTORY_SHARE_PERCENT", "101", "from 1 to 100"),
        ("MEDTWIN_HISTORY_BURST_SECONDS", "0.5", "whole number"),
        ("MEDTWIN_HISTORY_TIMEOUT_SECONDS", "0", "from 1 to 300"),
    ],
)
def test_settings_invalid_variable_named(variable, value, message):
    result = run_manage("check", **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr
    assert message in result.stderr


def test_settings_production_requires_secret_key():
    env = {"MEDTWIN_DEPLOYMENT": "production", "DJANGO_ALLOWED_HOSTS": "icu.example"}
    env.pop("DJANGO_SECRET_KEY", None)
    result = run_manage("check", **env, DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is missing" in result.stderr


def test_settings_production_deploy_check_clean():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        MEDTWIN_DEPLOYMENT="production",
        DJANGO_SECRET_KEY="x" * 30 + "Ab1!-_9zQ" * 5,
        DJANGO_ALLOWED_HOSTS="icu.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
