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


# What each role may GET. Routes that only accept POST, or only device
# tokens, are listed with the status every signed-in user gets.
NURSE, ADMIN, AUDITOR = "nurse", "admin", "auditor"
PAGES_BY_ROLE = {
    "": {NURSE, ADMIN, AUDITOR},
    "wards/<slug:code>/": {NURSE, ADMIN},
    "wards/<slug:code>/beds/<slug:bed>/": {NURSE, ADMIN},
    "wards/<slug:code>/beds/<slug:bed>/history": {NURSE, ADMIN},
    "api/v1/beds/<slug:bed>/twin": {NURSE, ADMIN},
    "beds/<slug:bed>/observations/": {NURSE},
    "scheduler/runs/": {ADMIN, AUDITOR},
    "scheduler/runs/<int:run_id>/": {ADMIN, AUDITOR},
    "scheduler/runs/<int:run_id>/compare/": {ADMIN, AUDITOR},
    "scheduler/runs/<int:run_id>/placements/<path:task_id>": {ADMIN, AUDITOR},
    "scheduler/placements/": {ADMIN, AUDITOR},
    "scheduler/charts/": {ADMIN, AUDITOR},
    "scheduler/changes/": {ADMIN, AUDITOR},
    "scheduler/weights/": {ADMIN},
    "scheduler/alert-thresholds/": {ADMIN},
    "scheduler/nodes/": {ADMIN},
    "scheduler/nodes/new/": {ADMIN},
    "scheduler/nodes/<slug:name>/": {ADMIN},
}
# Device endpoints authenticate a device token, never a session.
DEVICE_ONLY = {
    "api/v1/observations",
    "api/v1/beds/<slug:bed>/ecg",
    "fhir/Observation",
    "fhir",
    "scheduler/api/v1/heartbeat",
}
POST_ONLY = {"scheduler/runs/new/", "beds/<slug:bed>/spo2-scale/"}


def test_every_route_has_a_rule():
    ruled = set(PAGES_BY_ROLE) | DEVICE_ONLY | POST_ONLY | PUBLIC
    assert set(ALL_ROUTES) - ruled == set()


@pytest.fixture
def planned_icu(demo_icu, nurse):
    from scheduler.models.runs import Trigger
    from scheduler.tasks import enqueue_run, plan_ward

    run = enqueue_run(demo_icu, "greedy", Trigger.MANUAL)
    plan_ward(run.pk)
    return run


@pytest.mark.parametrize("route", sorted(PAGES_BY_ROLE))
@pytest.mark.parametrize("role", [NURSE, ADMIN, AUDITOR])
def test_role_may_get_only_its_pages(
    planned_icu, nurse, admin_user, auditor, route, role
):
    user = {NURSE: nurse, ADMIN: admin_user, AUDITOR: auditor}[role]
    client = Client()
    client.force_login(user)
    url = concrete(route).replace("/runs/1/", f"/runs/{planned_icu.pk}/")
    status = client.get(url).status_code
    if role in PAGES_BY_ROLE[route]:
        assert status in (200, 302), f"{role} GET {url} gave {status}"
    else:
        assert status == 403, f"{role} GET {url} gave {status}"


@pytest.mark.parametrize("route", sorted(DEVICE_ONLY))
def test_device_routes_reject_sessions(planned_icu, admin_user, route):
    client = Client()
    client.force_login(admin_user)
    response = client.post(concrete(route), data="{}", content_type="application/json")
    assert response.status_code == 401
