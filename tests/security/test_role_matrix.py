"""Every URL and WebSocket route checks who is calling.

The routes are read from the URLconf, so a route added later is covered
without editing this file: anonymous callers must be sent to the login page
or rejected, whatever the route.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

PUBLIC = {"login/", "logout/"}
PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
SAMPLE_VALUES = {
    "code": "icu-1",
    "ward": "icu-1",
    "bed": "icu1-bed01",
    "run_id": "1",
    "task_id": "icu1-bed01/ecg_sync",
    "name": "fog-icu-1-1",
}


def routes(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def concrete(route: str) -> str:
    def value(match):
        name = match.group("name")
        if name not in SAMPLE_VALUES:
            raise AssertionError(f"route {route!r}: no sample value for <{name}>")
        return SAMPLE_VALUES[name]

    return "/" + PARAMETER.sub(value, route)


ALL_ROUTES = sorted(routes())


def test_routes_found():
    assert "wards/<slug:code>/" in ALL_ROUTES
    assert len(ALL_ROUTES) > 5


@pytest.mark.parametrize("route", [r for r in ALL_ROUTES if r not in PUBLIC])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_rejected_everywhere(demo_icu, route, method):
    response = getattr(Client(), method)(concrete(route))
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login/")
    else:
        assert response.status_code in (401, 403, 405), (
            f"{method.upper()} {route} gave {response.status_code} to anonymous"
        )
