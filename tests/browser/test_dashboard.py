"""Nurses' pages in Chromium: posted readings, alert actions, reconnection, panel."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connections
from django.utils import timezone

from tests.browser.test_ward_live import log_in
from tests.helpers import post_readings
from twins import alerts
from twins.models import Alert, DeviceToken, TwinState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000
# Device tokens of this test module, by bed; tokens are stored hashed.
TOKENS: dict[str, str] = {}


def post_vitals(base_url, bed_code, heart_rate, resp_rate, spo2) -> None:
    """Post one set of vitals from the bed's monitor, stamped now."""
    token = TOKENS.get(bed_code)
    if token is None:
        _, token = DeviceToken.issue(f"monitor-{bed_code}")
        TOKENS[bed_code] = token
    now = timezone.now().isoformat()
    values = {"heart_rate": (heart_rate, "/min"), "resp_rate": (resp_rate, "/min"),
              "spo2": (spo2, "%")}  # fmt: skip
    post_readings(
        base_url,
        token,
        [
            {"bed": bed_code, "device": f"monitor-{bed_code}", "timestamp": now,
             "parameter": parameter, "value": value, "unit": unit}
            for parameter, (value, unit) in values.items()
        ],
    )  # fmt: skip


def outside_event_loop(function, *args):
    """Run ``function`` in a thread of its own.

    Playwright's event loop runs in the test's thread, and the alert service
    sends its frames with ``async_to_sync``, which refuses to run there.
    """

    def run():
        try:
            return function(*args)
        finally:
            # The thread's database connection would otherwise stay open and
            # keep the test database from being dropped.
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def open_alert(bed_code: str) -> Alert:
    return Alert.objects.exclude(state="resolved").get(bed__code=bed_code)


def open_ward(browser, base_url, user):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, base_url, user.username)
    page.wait_for_url(f"{base_url}/wards/icu-1/")
    page.wait_for_selector("#connection[data-state=live]")
    return context, page


def test_posted_reading_changes_tile(asgi_server, page, ward, nurse):
    _, token = DeviceToken.issue("monitor-bed07")
    log_in(page, asgi_server, nurse.username)
    page.wait_for_selector("#connection[data-state=live]")
    tile = page.locator("#bed-icu1-bed07")
    assert "SIGNAL LOST" in tile.inner_text()

    now = timezone.now().isoformat()
    post_readings(
        asgi_server,
        token,
        [
            {"bed": "icu1-bed07", "device": "monitor-bed07", "timestamp": now,
             "parameter": "systolic_bp", "value": 88, "unit": "mm[Hg]"},
            {"bed": "icu1-bed07", "device": "monitor-bed07", "timestamp": now,
             "parameter": "diastolic_bp", "value": 51, "unit": "mm[Hg]"},
            {"bed": "icu1-bed07", "device": "monitor-bed07", "timestamp": now,
             "parameter": "temperature", "value": 38.6, "unit": "Cel"},
        ],
    )  # fmt: skip

    pressure = tile.locator("[data-parameter=blood_pressure] .vital-value")
    pressure.filter(has_text="88/51 mmHg").wait_for(timeout=WAIT_MS)
    temperature = tile.locator("[data-parameter=temperature]")
    assert "38.6 °C" in temperature.inner_text()
    assert "s ago" in temperature.locator(".vital-age").inner_text()
    # Systolic 88 scores 3: a medium-priority alert, marked by text and "!!".
    alert = tile.locator(".alert[data-priority=medium]")
    alert.wait_for(timeout=WAIT_MS)
    assert "!! MEDIUM" in alert.inner_text()


def test_acknowledge_seen_on_second_page(asgi_server, browser, ward, nurse, admin_user):
    first_context, first = open_ward(browser, asgi_server, nurse)
    second_context, second = open_ward(browser, asgi_server, admin_user)
    # Each of the three scores 3: NEWS2 9, high risk, a high-priority alert.
    post_vitals(asgi_server, "icu1-bed03", heart_rate=137, resp_rate=27, spo2=91)
    alert = open_alert("icu1-bed03")

    item = f"#alert-{alert.pk}"
    first.locator(item).wait_for(timeout=WAIT_MS)
    second.locator(item).wait_for(timeout=WAIT_MS)
    assert "!!! HIGH" in second.locator(item).inner_text()

    first.locator(item).get_by_role("button", name="Acknowledge").click()

    acknowledged = second.locator(f"{item}[data-state=acknowledged]")
    acknowledged.wait_for(timeout=WAIT_MS)
    assert "acknowledged by nurse-1" in acknowledged.inner_text()
    assert alert.actions.filter(action="acknowledge", user=nurse).exists()

    second.select_option("#sort", "risk")
    second.wait_for_function(
        "document.querySelector('#beds > .bed').id === 'bed-icu1-bed03'",
        timeout=WAIT_MS,
    )
    first_tile = second.locator("#beds > .bed").first
    assert "■ at least High" in first_tile.locator(".news2").inner_text()
    second.select_option("#filter", "alerts")
    second.wait_for_function(
        "document.getElementById('shown-count').textContent.startsWith('1 of 12')"
    )
    assert second.locator("#beds > .bed:visible").count() == 1
    first_context.close()
    second_context.close()


def test_connection_lost_alert_not_lost(asgi_server, page, ward, nurse):
    """Alerts raised while the socket is down appear after it reconnects."""
    routes = []
    offline = threading.Event()

    def route(socket):
        if offline.is_set():
            socket.close(code=1013, reason="test: server unreachable")
            return
        socket.connect_to_server()
        routes.append(socket)

    page.route_web_socket(re.compile(r"/ws/wards/"), route)
    log_in(page, asgi_server, nurse.username)
    page.wait_for_selector("#connection[data-state=live]")

    offline.set()
    routes[-1].close(code=1001, reason="test: connection dropped")
    page.wait_for_selector("#connection[data-state=disconnected]")
    post_vitals(asgi_server, "icu1-bed09", heart_rate=137, resp_rate=27, spo2=91)
    passing = open_alert("icu1-bed09")
    # The twin resolves the alert as if its condition had cleared.
    outside_event_loop(alerts.resolve, passing, None, "condition cleared")
    post_vitals(asgi_server, "icu1-bed10", heart_rate=137, resp_rate=27, spo2=91)
    staying = open_alert("icu1-bed10")
    page.wait_for_timeout(1000)
    assert page.locator(f"#alert-{staying.pk}").count() == 0
    offline.clear()

    page.wait_for_selector("#connection[data-state=live]", timeout=60_000)
    page.locator(f"#bed-icu1-bed10 #alert-{staying.pk}").wait_for(timeout=WAIT_MS)
    missed = page.locator("#missed")
    missed.locator(f"#missed-alert-{passing.pk}").wait_for(timeout=WAIT_MS)
    assert "resolved" in missed.locator(f"#missed-alert-{passing.pk}").inner_text()


def test_panel_draws_charts_locally(asgi_server, page, ward, nurse):
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _, token = DeviceToken.issue("monitor-bed02")
    now = timezone.now()
    post_readings(
        asgi_server,
        token,
        [
            {"bed": "icu1-bed02", "device": "monitor-bed02",
             "timestamp": (now - timedelta(seconds=seconds)).isoformat(),
             "parameter": "heart_rate", "value": 70 + seconds % 5, "unit": "/min"}
            for seconds in range(120, 0, -1)
        ],
    )  # fmt: skip
    # A forecast as the twin's analysis task stores it.
    forecast = {"value": 73.0, "low": 69.5, "high": 76.5, "horizon_seconds": 60,
                "fitted_at": now.isoformat(),
                "at": (now + timedelta(seconds=60)).isoformat()}  # fmt: skip
    TwinState.objects.filter(bed__code="icu1-bed02").update(
        forecast={"heart_rate": forecast}
    )
    log_in(page, asgi_server, nurse.username)
    page.goto(f"{asgi_server}/wards/icu-1/beds/icu1-bed02/")
    page.wait_for_selector("#connection[data-state=live]")

    page.locator("#chart-heart_rate .main-svg").first.wait_for(timeout=WAIT_MS)
    assert "no readings" in page.locator("#chart-temperature").inner_text()
    drawn = page.evaluate(
        "Object.fromEntries(document.getElementById('chart-heart_rate').data"
        ".map(trace => [trace.name, trace.x]))"
    )
    assert drawn["heart rate forecast"][1] > drawn["heart rate"][-1]
    assert "heart rate forecast 90 % interval" in drawn
    page.get_by_role("button", name="last 24h").click()
    page.wait_for_selector("#charts[data-window='24h']", timeout=WAIT_MS)
    assert (
        "each point is the minimum or maximum of 144 s"
        in page.locator("#history-status").inner_text()
    )

    post_readings(
        asgi_server,
        token,
        [{"bed": "icu1-bed02", "device": "monitor-bed02",
          "timestamp": timezone.now().isoformat(), "parameter": "heart_rate",
          "value": 131, "unit": "/min"}],
    )  # fmt: skip
    summary = page.locator("#summary [data-parameter=heart_rate]")
    summary.filter(has_text="131").wait_for(timeout=WAIT_MS)
    points = page.evaluate(
        "document.getElementById('chart-heart_rate').data[0].y.slice(-1)[0]"
    )
    assert points == 131
    assert hosts == {"127.0.0.1"}
    assert errors == []
