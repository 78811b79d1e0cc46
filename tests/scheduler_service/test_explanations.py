"""Auditor views: placement log filters and exports, explanations, solver
comparison and charts."""

import csv
import html
import io

import pytest

from scheduler.explain import explain
from scheduler.models import ComputeNode, PlanningRun
from scheduler.snapshot import problem_from_dict
from tests.scheduler_service.conftest import plan_now

LOG_URL = "/scheduler/placements/"


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


def assignment_of(run: PlanningRun) -> dict[str, str]:
    return dict(run.placements.values_list("task_id", "node__name"))


@pytest.mark.django_db
def test_log_filters_narrow_rows(auditor_client, planned_run):
    greedy = plan_now(planned_run.ward, "greedy")
    cases = {
        "": planned_run.task_count + greedy.task_count,
        "solver=exact": planned_run.task_count,
        f"run={greedy.pk}": greedy.task_count,
        "kind=ecg_sync": 2 * 12,
        "ward=icu-1&solver=greedy&kind=model_update": 12,
    }
    for query, expected in cases.items():
        response = auditor_client.get(f"{LOG_URL}?{query}&format=json")
        assert response.status_code == 200, query
        assert len(response.json()["placements"]) == expected, query


@pytest.mark.django_db
def test_log_filter_by_patient_node_tier(auditor_client, planned_run):
    placement = planned_run.placements.select_related("node").first()
    query = (
        f"patient={placement.patient_pseudonym}&node={placement.node.name}"
        f"&tier={placement.tier}&format=json"
    )
    rows = auditor_client.get(f"{LOG_URL}?{query}").json()["placements"]
    assert rows
    for row in rows:
        assert row["patient"] == placement.patient_pseudonym
        assert row["node"] == placement.node.name
        assert row["tier"] == placement.tier


@pytest.mark.django_db
def test_log_filter_by_time(auditor_client, planned_run):
    finished = planned_run.finished_at
    before = (finished.replace(microsecond=0)).isoformat().replace("+00:00", "Z")
    after_count = len(
        auditor_client.get(f"{LOG_URL}?since={before}&format=json").json()["placements"]
    )
    assert after_count == planned_run.task_count
    rows = auditor_client.get(f"{LOG_URL}?until={before}&format=json").json()
    assert rows["placements"] == []


@pytest.mark.django_db
def test_log_csv_export(auditor_client, planned_run):
    response = auditor_client.get(f"{LOG_URL}?solver=exact&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == planned_run.task_count
    stored = assignment_of(planned_run)
    for row in rows:
        assert stored[row["task_id"]] == row["node"]
        assert row["w_latency"] == str(planned_run.weights["latency"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=backup", "kind='backup' is invalid: expected one of ecg_sync"),
        ("tier=fridge", "tier='fridge' is invalid: expected one of edge, fog, cloud"),
        ("solver=magic", "solver='magic' is invalid"),
        ("run=abc", "run='abc' is invalid: expected a run number"),
        ("since=yesterday", "since='yesterday' is invalid: expected an ISO 8601"),
        ("format=xml", "format='xml' is invalid: expected one of csv, json"),
    ],
)
def test_log_bad_filter_rejected(auditor_client, planned_run, query, message):
    response = auditor_client.get(f"{LOG_URL}?{query}&format=json")
    if "format=xml" in query:
        response = auditor_client.get(f"{LOG_URL}?{query}")
        assert response.status_code == 400
        assert message in html.unescape(response.content.decode())
        return
    assert response.status_code == 400
    assert message in response.json()["errors"][0]


@pytest.mark.django_db
def test_explanation_of_exact_placement(planned_run):
    """No single move improves an optimal plan, and every other node is named."""
    problem = problem_from_dict(planned_run.snapshot)
    assignment = assignment_of(planned_run)
    node_ids = {node.id for node in problem.nodes}
    for task in problem.tasks:
        x = explain(planned_run.snapshot, assignment, task.id)
        assert x.node.id == assignment[task.id]
        assert {alt.node for alt in x.alternatives} == node_ids - {x.node.id}
        for alt in x.alternatives:
            if alt.feasible:
                assert alt.objective_delta >= -1e-6 - planned_run.gap_pct / 100
            else:
                assert alt.delta == {}
        shares = [x.terms[f"task_{n}"] for n in ("latency", "cost", "security")]
        assert all(share >= 0 for share in shares)
        assert sum(shares) <= planned_run.objective + 1e-9
        feasible = [alt for alt in x.alternatives if alt.feasible]
        if feasible:
            best = min(alt.objective_delta for alt in feasible)
            assert x.runner_up.objective_delta == best


@pytest.mark.django_db
def test_explanation_names_blocking_constraints(planned_run):
    assignment = assignment_of(planned_run)
    x = explain(planned_run.snapshot, assignment, "icu1-bed01/risk_inference")
    reasons = {alt.node: alt.reasons for alt in x.alternatives}
    # Risk inference needs security 3, and bedside devices have level 2.
    assert any("security below minimum" in r for r in reasons["edge-icu1-bed01"])
    assert reasons["edge-icu1-bed02"] == ("no network path to bed icu1-bed01",)


@pytest.mark.django_db
def test_explanation_reports_deadline_and_down_nodes(demo_icu):
    ComputeNode.objects.filter(name="fog-icu-1-2").update(is_up=False)
    ComputeNode.objects.filter(name="cloud-general").update(latency_ms=300.0)
    run = plan_now(demo_icu, "exact")
    x = explain(run.snapshot, assignment_of(run), "icu1-bed01/ecg_sync")
    reasons = {alt.node: alt.reasons for alt in x.alternatives}
    assert reasons["fog-icu-1-2"] == ("node is down",)
    # ECG sync has a 250 ms deadline, and 300 ms of network latency alone
    # exceeds it.
    assert any("deadline exceeded" in r for r in reasons["cloud-general"])


@pytest.mark.django_db
def test_explanation_page_and_json(auditor_client, planned_run):
    task_id = "icu1-bed03/anomaly_detection"
    url = f"/scheduler/runs/{planned_run.pk}/placements/{task_id}"
    page = auditor_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Weights in force" in text
    assert "optimality gap" in text
    data = auditor_client.get(url + "?format=json").json()
    assert data["task"] == task_id
    assert data["gap_pct"] == planned_run.gap_pct
    assert data["weights"]["latency"] == pytest.approx(1 / 3)
    assert data["runner_up"] in {alt["node"] for alt in data["alternatives"]}


@pytest.mark.django_db
def test_explanation_unknown_task_404(auditor_client, planned_run):
    url = f"/scheduler/runs/{planned_run.pk}/placements/icu1-bed99/ecg_sync"
    assert auditor_client.get(url).status_code == 404


@pytest.mark.django_db
def test_compare_page_runs_three_solvers(auditor_client, planned_run):
    runs_before = PlanningRun.objects.count()
    response = auditor_client.get(f"/scheduler/runs/{planned_run.pk}/compare/")
    assert response.status_code == 200
    rows = {row.solver: row for row in response.context["rows"]}
    assert set(rows) == {"exact", "greedy", "hybrid"}
    for row in rows.values():
        assert row.result.feasible, row.solver
    exact = rows["exact"].result
    assert exact.objective <= rows["greedy"].result.objective + 1e-9
    assert exact.objective == pytest.approx(planned_run.objective, rel=1e-6)
    assert rows["exact"].differs_from_exact == 0
    assert PlanningRun.objects.count() == runs_before


@pytest.mark.django_db
def test_charts_page_pareto_and_tier_mix(auditor_client, planned_run):
    plan_now(planned_run.ward, "greedy")
    response = auditor_client.get("/scheduler/charts/?ward=icu-1")
    assert response.status_code == 200
    points = response.context["points"]
    assert len(points) >= 15
    front = [p for p in points if p["front"]]
    assert front
    for p in front:
        for q in points:
            dominates = (
                q["latency"] <= p["latency"]
                and q["cost"] <= p["cost"]
                and q["security"] <= p["security"]
                and (q["latency"], q["cost"], q["security"])
                != (p["latency"], p["cost"], p["security"])
            )
            assert not dominates, (p["label"], q["label"])
    text = response.content.decode()
    assert 'id="pareto-chart"' in text
    assert 'id="tier-mix-chart"' in text
    assert "vendor/plotly/plotly.min.js" in text
    assert "Plotly.newPlot" in text


@pytest.mark.django_db
def test_charts_unknown_ward_rejected(auditor_client, demo_icu):
    response = auditor_client.get("/scheduler/charts/?ward=icu-9")
    assert response.status_code == 400
    assert "ward='icu-9' is invalid: expected one of icu-1" in html.unescape(
        response.content.decode()
    )


@pytest.mark.django_db
def test_run_detail_links_explanations(auditor_client, demo_icu):
    run = plan_now(None, "greedy")
    page = auditor_client.get(f"/scheduler/runs/{run.pk}/").content.decode()
    assert "the whole hospital" in page
    assert f"/scheduler/runs/{run.pk}/compare/" in page
    task_id = run.placements.first().task_id
    assert f"/scheduler/runs/{run.pk}/placements/{task_id}" in page
