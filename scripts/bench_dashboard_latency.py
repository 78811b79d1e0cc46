"""Measure how long a posted observation takes to be drawn on an open ward page.

For each ward size (12 and 100 beds by default) the script creates a ward in
a database of its own, starts daphne on loopback and opens the ward overview
in headless Chromium as an assigned nurse. While a feeder thread posts one
batch per second with heart rate, respiratory rate and SpO2 for every other
bed (the load of a replayed ward), the script posts single heart-rate
readings for one bed through ``POST /api/v1/observations`` and records:

- accepted: ``TwinState.updated_at`` of the bed, set in the transaction that
  stores the reading, just before it commits;
- sent: when the client started the POST;
- drawn: the start of the first animation frame after the tile's heart-rate
  cell shows the new value. The page's own rendering finishes within that
  frame, so this is at most one frame (about 17 ms at 60 Hz) late.

All clocks are the same machine's wall clock. It prints the median, 90th
and 99th percentile and maximum of accepted-to-drawn and sent-to-drawn, the
machine, and writes every sample as JSON with ``--out``.

With ``--history`` it also stores 24 hours of 1 Hz heart rate, pulse,
respiratory rate and SpO2 for one bed (345,600 readings). It then times
``twins.history.bed_history`` per window on the server, with the size of its
JSON, and in the browser the time from a click on a window button until its
charts are drawn.

Usage: ``python scripts/bench_dashboard_latency.py [--beds 12 100]
[--samples 300] [--history] [--out FILE]``; ``--beds`` with no sizes skips
the latency runs. It needs ``DATABASE_URL`` and ``REDIS_URL`` (or the
embedded servers) and Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUN_ID = f"bench-{os.getpid()}"
os.environ["DJANGO_SETTINGS_MODULE"] = "medtwin.test_settings"
os.environ.setdefault(
    "MEDTWIN_TEST_DATABASE_NAME", f"medtwin_{RUN_ID}".replace("-", "_")
)
os.environ.setdefault("MEDTWIN_CHANNEL_PREFIX", f"medtwin-{RUN_ID}")
os.environ.setdefault("MEDTWIN_CELERY_QUEUE", f"medtwin-{RUN_ID}")
# Playwright's sync API runs an event loop in this thread; the script's own
# ORM calls are plain blocking reads and writes outside it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from scripts.common import machine, store_day  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.helpers import free_port, log_in, post_readings  # noqa: E402
from twins.history import WINDOWS_SECONDS, Window, bed_history  # noqa: E402
from twins.models import (  # noqa: E402
    Bed,
    DeviceToken,
    Patient,
    TwinState,
    Ward,
)

WARM_UP_SAMPLES = 10
SERVER_START_TIMEOUT_SECONDS = 30
DRAW_TIMEOUT_MS = 10_000
FEED_INTERVAL_SECONDS = 1.0


def postgresql_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def seed(beds: int, password: str) -> tuple[Ward, str]:
    """Create a ward of ``beds`` beds and an assigned nurse; return a device token."""
    code = f"bench-{beds}"
    ward = Ward.objects.create(code=code, name=f"Benchmark ward of {beds} beds")
    for number in range(1, beds + 1):
        bed = Bed.objects.create(
            ward=ward, code=f"{code}-bed{number:03d}", label=f"Bed {number}"
        )
        TwinState.objects.create(bed=bed)
        Patient.objects.create(
            pseudonym=f"B{beds}-{number:03d}", bed=bed, admitted_at=timezone.now()
        )
    nurse, created = User.objects.get_or_create(username="bench-nurse")
    if created:
        nurse.set_password(password)
        nurse.save()
        nurse.groups.add(Group.objects.get_or_create(name="nurse")[0])
    ward.nurses.add(nurse)
    _, token = DeviceToken.issue(f"bench-monitor-{beds}")
    return ward, token


def feed(base_url: str, token: str, beds: list[str], stop: threading.Event) -> None:
    """Post normal vitals for ``beds`` once a second until ``stop`` is set."""
    while not stop.is_set():
        started = time.monotonic()
        now = timezone.now().isoformat()
        readings = []
        for bed in beds:
            for parameter, value, unit in (
                ("heart_rate", random.randint(65, 80), "/min"),
                ("resp_rate", random.randint(14, 18), "/min"),
                ("spo2", random.randint(96, 99), "%"),
            ):
                reading = {"bed": bed, "device": f"feed-{bed}", "timestamp": now}
                reading.update(parameter=parameter, value=value, unit=unit)
                readings.append(reading)
        post_readings(base_url, token, readings)
        stop.wait(max(0.0, FEED_INTERVAL_SECONDS - (time.monotonic() - started)))


def start_daphne() -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, MEDTWIN_USE_TEST_DATABASE="1")
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "medtwin.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("daphne did not start") from None
            time.sleep(0.2)


# Records when the watched cell first shows the expected text: the start of
# the next animation frame, which comes after the frame that drew it.
WATCH_SCRIPT = """
([selector, expected]) => {
  window.benchDrawnAt = null;
  const observer = new MutationObserver(() => {
    const cell = document.querySelector(selector);
    if (cell && cell.textContent.startsWith(expected)) {
      observer.disconnect();
      requestAnimationFrame(() => {
        window.benchDrawnAt = performance.timeOrigin + performance.now();
      });
    }
  });
  observer.observe(document.getElementById("beds"),
                   {childList: true, subtree: true, characterData: true});
}
"""


def measure(browser, base_url, ward, token, samples, password) -> list[dict]:
    codes = list(ward.beds.order_by("code").values_list("code", flat=True))
    watched, others = codes[0], codes[1:]
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    log_in(page, base_url, "bench-nurse", password)
    page.wait_for_url(f"{base_url}/**")
    page.goto(f"{base_url}/wards/{ward.code}/")
    page.wait_for_selector("#connection[data-state=live]")

    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(base_url, token, others, stop))
    feeder.start()
    selector = f"#bed-{watched} [data-parameter=heart_rate] .vital-value"
    results = []
    try:
        for index in range(samples + WARM_UP_SAMPLES):
            value = 60 + index % 2
            page.evaluate(WATCH_SCRIPT, [selector, f"{value} /min"])
            sent = time.time()
            post_readings(base_url, token, [{"bed": watched, "device": "bench-watched",
                                             "timestamp": timezone.now().isoformat(),
                                             "parameter": "heart_rate", "value": value,
                                             "unit": "/min"}])  # fmt: skip
            page.wait_for_function(
                "window.benchDrawnAt !== null", timeout=DRAW_TIMEOUT_MS
            )
            drawn = page.evaluate("window.benchDrawnAt") / 1000
            accepted = TwinState.objects.get(bed__code=watched).updated_at.timestamp()
            if index >= WARM_UP_SAMPLES:
                results.append({"sent": sent, "accepted": accepted, "drawn": drawn})
            time.sleep(random.uniform(0.2, 0.6))
    finally:
        stop.set()
        feeder.join()
        context.close()
    return results


def measure_history(browser, base_url, password, repeats) -> dict:
    """Time the history of a bed holding a day of 1 Hz data, server and browser."""
    ward, _ = seed(1, password)
    bed = ward.beds.get()
    parameters = ("heart_rate", "pulse_rate", "resp_rate", "spo2")
    readings = store_day(bed, parameters, device="bench-day", end=timezone.now())
    result = {"readings": readings, "server": {}, "browser": {}}
    for name in WINDOWS_SECONDS:
        times_ms, size = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            data = bed_history(bed, Window.parse(name))
            times_ms.append((time.perf_counter() - started) * 1000)
            size = len(json.dumps(data))
        result["server"][name] = {
            "median_ms": round(statistics.median(times_ms), 1),
            "max_ms": round(max(times_ms), 1),
            "json_bytes": size,
        }

    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    log_in(page, base_url, "bench-nurse", password)
    page.wait_for_url(f"{base_url}/**")
    page.goto(f"{base_url}/wards/{ward.code}/beds/{bed.code}/")
    page.wait_for_selector("#charts[data-window='1h']", timeout=DRAW_TIMEOUT_MS * 6)
    clicks = {name: [] for name in WINDOWS_SECONDS}
    for _ in range(repeats):
        for name in ("24h", "6h", "1h"):
            started = time.perf_counter()
            page.click(f"[data-window='{name}']")
            page.wait_for_selector(
                f"#charts[data-window='{name}']", timeout=DRAW_TIMEOUT_MS * 6
            )
            clicks[name].append((time.perf_counter() - started) * 1000)
    context.close()
    for name, times_ms in clicks.items():
        result["browser"][name] = {
            "median_ms": round(statistics.median(times_ms), 1),
            "max_ms": round(max(times_ms), 1),
        }
    return result


def summary(values_ms: list[float]) -> dict:
    ordered = sorted(values_ms)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(cut[89], 1),
        "p99_ms": round(cut[98], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beds", type=int, nargs="*", default=[12, 100],
                        help="ward sizes to measure, in beds")  # fmt: skip
    parser.add_argument("--samples", type=int, default=300,
                        help="readings measured per ward size")  # fmt: skip
    parser.add_argument("--history", action="store_true",
                        help="also time a bed panel holding a day of data")  # fmt: skip
    parser.add_argument("--out", type=Path, help="write every sample as JSON here")
    args = parser.parse_args()
    for beds in args.beds:
        if not 2 <= beds <= 500:
            parser.error(f"--beds {beds} is invalid: use 2 to 500 beds")
    if not 20 <= args.samples <= 100_000:
        parser.error(f"--samples {args.samples} is invalid: use 20 to 100000")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        sys.exit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")

    from playwright.sync_api import sync_playwright

    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    password = secrets.token_urlsafe(12)
    report = {
        "machine": {
            **machine("Django", "channels", "daphne", "playwright"),
            "os": platform.platform(),
            "postgresql": postgresql_version(),
        },
        "started": datetime.now(UTC).isoformat(),
        "runs": [],
    }
    daphne, base_url = start_daphne()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
            report["machine"]["chromium"] = browser.version
            for beds in args.beds:
                ward, token = seed(beds, password)
                samples = measure(
                    browser, base_url, ward, token, args.samples, password
                )
                accepted = [(s["drawn"] - s["accepted"]) * 1000 for s in samples]
                sent = [(s["drawn"] - s["sent"]) * 1000 for s in samples]
                run = {
                    "beds": beds,
                    "samples": len(samples),
                    "accepted_to_drawn": summary(accepted),
                    "sent_to_drawn": summary(sent),
                    "rows": samples,
                }
                report["runs"].append(run)
                print(f"{beds} beds, {len(samples)} readings: accepted to drawn "
                      f"{run['accepted_to_drawn']}", flush=True)  # fmt: skip
            if args.history:
                report["history"] = measure_history(browser, base_url, password, 5)
                print("history:", json.dumps(report["history"]), flush=True)
            browser.close()
    finally:
        daphne.terminate()
        daphne.wait(timeout=20)
        report["machine"]["load_average_end"] = os.getloadavg()
        _purge_queue()
        drop_database(settings.DATABASES["default"]["NAME"])

    print(json.dumps(report["machine"], indent=2))
    print("| beds | readings | accepted to drawn: median / p90 / p99 / max (ms) "
          "| sent to drawn: median / p90 / p99 / max (ms) |")  # fmt: skip
    print("| --- | --- | --- | --- |")
    for run in report["runs"]:
        a, s = run["accepted_to_drawn"], run["sent_to_drawn"]
        print(f"| {run['beds']} | {run['samples']} | {a['median_ms']} / "
              f"{a['p90_ms']} / {a['p99_ms']} / {a['max_ms']} | {s['median_ms']} / "
              f"{s['p90_ms']} / {s['p99_ms']} / {s['max_ms']} |")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


def drop_database(name: str) -> None:
    # The server may still hold a session of the stopped daphne, which would
    # make a plain DROP DATABASE fail; FORCE (PostgreSQL 13+) ends it.
    connection.close()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _purge_queue() -> None:
    # Risk-band changes queue re-plans; no worker runs here, so they are dropped.
    from medtwin.celery import app

    with app.connection_for_write() as broker:
        broker.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


if __name__ == "__main__":
    main()
