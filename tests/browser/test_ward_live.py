"""A nurse's browser: log in, see the ward, watch a tile change live."""

import pytest
from django.utils import timezone

from tests import helpers
from twins.ingest import ingest
from twins.vitals import Source

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url, username, password="test-password-1"):
    """Log in as a test user, whose password the fixtures set."""
    helpers.log_in(page, base_url, username, password)


def test_ward_tile_updates_live(asgi_server, page, ward, nurse):
    from tests.browser.test_dashboard import outside_event_loop

    log_in(page, asgi_server, nurse.username)
    page.wait_for_url(f"{asgi_server}/wards/{ward.code}/")
    page.wait_for_selector("#connection[data-state=live]")
    tile = page.locator("#bed-icu1-bed05")
    assert "SIGNAL LOST" in tile.inner_text()

    now = timezone.now().isoformat()
    batch = [
        {"bed": "icu1-bed05", "device": "m5", "timestamp": now,
         "parameter": "heart_rate", "value": 137, "unit": "/min"},
        {"bed": "icu1-bed05", "device": "m5", "timestamp": now,
         "parameter": "resp_rate", "value": 27, "unit": "/min"},
    ]  # fmt: skip
    outside_event_loop(ingest, batch, Source.DEVICE)

    heart_rate = tile.locator("[data-parameter=heart_rate] .vital-value")
    heart_rate.filter(has_text="137").wait_for(timeout=10_000)
    assert "NEWS2 ≥ 6" in tile.inner_text()
    assert tile.get_attribute("data-band") == "medium"


def test_ward_page_requires_login(asgi_server, page, ward):
    page.goto(f"{asgi_server}/wards/{ward.code}/")
    assert "/login/" in page.url
