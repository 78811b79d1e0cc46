"""Bed panel page, history endpoint and ward page: role checks and bad input."""

import pytest
from django.test import Client
from django.utils import timezone

from medtwin.staticfinders import STATIC_PATH
from scheduler.models import Placement, PlanningRun
from tests.conftest import _user
from twins.ingest import ingest
from twins.models import Bed, Observation, Patient
from twins.views import HISTORY_RETRY_AFTER_SECONDS, history_budget, history_slots
from twins.vitals import Source

PANEL = "/wards/icu-1/beds/icu1-bed01/"
HISTORY = PANEL + "history"


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("path", [PANEL, HISTORY, "/wards/icu-1/"])
def test_live_pages_anonymous_sent_to_login(ward, path):
    response = client_for(None).get(path)
    assert response.status_code == 302
    assert response.url.startswith("/login/")


@pytest.mark.parametrize("path", [PANEL, HISTORY, "/wards/icu-1/"])
def test_live_pages_auditor_forbidden(ward, auditor, path):
    assert client_for(auditor).get(path).status_code == 403


@pytest.mark.parametrize("path", [PANEL, HISTORY, "/wards/icu-1/"])
def test_live_pages_no_role_forbidden(ward, no_role_user, path):
    assert client_for(no_role_user).get(path).status_code == 403


@pytest.mark.parametrize("path", [PANEL, HISTORY, "/wards/icu-1/"])
def test_live_pages_unassigned_nurse_not_found(ward, path):
    other = _user("nurse-2", "nurse")
    assert client_for(other).get(path).status_code == 404


def test_panel_unknown_bed_not_found(ward, nurse):
    client = client_for(nurse)
    assert client.get("/wards/icu-1/beds/icu9-bed99/").status_code == 404
    assert client.get("/wards/icu-1/beds/icu9-bed99/history").status_code == 404


def test_panel_renders_for_assigned_nurse(ward, nurse):
    response = client_for(nurse).get(PANEL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="chart-news2"' in body
    assert STATIC_PATH in body
    assert response.context["bed_json"]["bed"] == "icu1-bed01"
    assert response.context["config"]["windows"] == ["1h", "6h", "24h"]


def test_panel_admin_allowed(ward, admin_user):
    assert client_for(admin_user).get(PANEL).status_code == 200


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("?window=2h", "window", "2h"),
        ("?window=", "window", ""),
        ("?windw=1h", "windw", "1h"),
        ("?window=1h&window=6h", "window", ["1h", "6h"]),
    ],
)
def test_history_bad_query_named(ward, nurse, query, field, value):
    response = client_for(nurse).get(HISTORY + query)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == field
    assert error["value"] == value
    assert "use" in error["message"]


def test_history_returns_posted_reading(ward, nurse):
    now = timezone.now()
    ingest(
        [{"bed": "icu1-bed01", "device": "m1", "timestamp": now.isoformat(),
          "parameter": "heart_rate", "value": 88, "unit": "/min"}],
        Source.DEVICE,
    )  # fmt: skip
    response = client_for(nurse).get(HISTORY + "?window=6h")
    assert response.status_code == 200
    data = response.json()
    assert data["window"] == "6h"
    assert data["vitals"]["heart_rate"]["v"] == [88]


def test_plotly_bundle_served_locally(ward, nurse):
    response = client_for(nurse).get("/static/" + STATIC_PATH)
    assert response.status_code == 200
    head = b"".join(response.streaming_content)[:200]
    assert b"plotly.js" in head


def test_ward_snapshot_shows_tasks_tier(demo_icu, nurse):
    run = PlanningRun.objects.create(
        ward=demo_icu, solver="greedy", trigger="manual", status="done",
        finished_at=timezone.now(),
    )  # fmt: skip
    edge = demo_icu.beds.get(code="icu1-bed01").computenode
    Placement.objects.create(
        run=run, task_id="icu1-bed01/ecg_sync", task_kind="ecg_sync",
        bed=edge.bed, urgency=1, node=edge, tier=edge.tier, demand_mips=1,
        memory_mb=1, min_security=1, latency_ms=1, cost=0, security_exposure=0,
    )  # fmt: skip
    response = client_for(nurse).get("/wards/icu-1/")
    beds = {bed["bed"]: bed for bed in response.context["beds_json"]}
    placement = beds["icu1-bed01"]["placement"]
    assert placement["run"] == run.pk
    assert placement["tasks"] == [
        {"task": "ecg_sync", "tier": "edge", "node": edge.name}
    ]
    assert beds["icu1-bed02"]["placement"] is None


def test_history_busy_when_every_slot_taken(ward, nurse, settings):
    settings.HISTORY_CONCURRENCY = 1
    settings.HISTORY_WAIT_SECONDS = 0
    slots = history_slots()
    assert slots.acquire(timeout=60)
    try:
        response = client_for(nurse).get(HISTORY + "?window=6h")
    finally:
        slots.release()

    assert response.status_code == 503
    assert response["Retry-After"] == str(HISTORY_RETRY_AFTER_SECONDS)
    error = response.json()["errors"][0]
    assert (error["field"], error["value"]) == ("window", "6h")
    assert "every history slot of this server is busy" in error["message"]
    assert client_for(nurse).get(HISTORY + "?window=6h").status_code == 200


def test_history_query_past_timeout_cancelled(ward, nurse, settings):
    bed = Bed.objects.get(code="icu1-bed01")
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    now = timezone.now()
    Observation.objects.bulk_create(
        Observation(
            bed=bed, patient=patient, device="monitor-bed01", parameter=parameter,
            value=70.0 + second % 9, unit="/min", source="device",
            observed_at=now - timezone.timedelta(seconds=second),
        )
        for parameter in ("heart_rate", "pulse_rate", "resp_rate", "spo2")
        for second in range(1, 3600)
    )  # fmt: skip
    settings.HISTORY_TIMEOUT_SECONDS = 0.001

    response = client_for(nurse).get(HISTORY + "?window=1h")

    assert response.status_code == 503
    assert response["Retry-After"] == str(HISTORY_RETRY_AFTER_SECONDS)
    error = response.json()["errors"][0]
    assert (error["field"], error["value"]) == ("window", "1h")
    assert "ran past 0.001 s and was cancelled" in error["message"]
    # The cancelled transaction is rolled back; the session is usable again.
    settings.HISTORY_TIMEOUT_SECONDS = 10
    response = client_for(nurse).get(HISTORY + "?window=1h")
    assert response.status_code == 200
    assert len(response.json()["vitals"]["heart_rate"]["v"]) > 300


def test_history_budget_spent_rejects(ward, nurse, settings):
    settings.HISTORY_WAIT_SECONDS = 0
    # A budget of one millisecond that refills at 1 % of wall time.
    settings.HISTORY_SHARE_PERCENT = 1
    settings.HISTORY_BURST_SECONDS = 0.001
    client = client_for(nurse)

    assert client.get(HISTORY + "?window=6h").status_code == 200
    spent = client.get(HISTORY + "?window=6h")

    assert spent.status_code == 503
    assert spent["Retry-After"] == str(HISTORY_RETRY_AFTER_SECONDS)
    error = spent.json()["errors"][0]
    assert (error["field"], error["value"]) == ("window", "6h")
    assert "history budget is spent" in error["message"]
    assert history_budget().wait(timeout=60)
    assert client.get(HISTORY + "?window=6h").status_code == 200


def test_history_burst_serves_window_switches(ward, nurse, settings):
    """A nurse clicking through the windows is served at once from the burst."""
    settings.HISTORY_WAIT_SECONDS = 0
    settings.HISTORY_SHARE_PERCENT = 1
    settings.HISTORY_BURST_SECONDS = 30
    client = client_for(nurse)

    for window in ("1h", "6h", "24h", "1h"):
        assert client.get(HISTORY + f"?window={window}").status_code == 200
