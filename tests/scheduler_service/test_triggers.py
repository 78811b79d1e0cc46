"""Re-plan triggers: weights, risk bands, heartbeats, whole-hospital plans."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from scheduler.heartbeats import mark_silent_nodes_down, record_heartbeat
from scheduler.models import ChangeLog, ComputeNode, PlanningRun
from scheduler.models.runs import RunStatus, Trigger
from scheduler.receivers import replan_on_risk_band_change
from scheduler.tasks import replan
from tests.scheduler_service.conftest import plan_now
from twins.models import Bed, Patient, TwinState, Ward

HEARTBEAT_URL = "/scheduler/api/v1/heartbeat"


def pending(trigger=None):
    runs = PlanningRun.objects.filter(status=RunStatus.PENDING)
    return runs.filter(trigger=trigger) if trigger else runs


def monitored(name: str) -> tuple[ComputeNode, str]:
    node = ComputeNode.objects.get(name=name)
    return node, node.issue_heartbeat_token()


@pytest.mark.django_db
def test_replan_burst_gives_one_run_per_solver(demo_icu, settings):
    settings.SCHEDULED_SOLVERS = ["exact", "greedy"]
    for trigger in (Trigger.WEIGHT_CHANGE, Trigger.RISK_CHANGE, Trigger.NODE_DOWN):
        replan([demo_icu], trigger)
    assert pending().count() == 2
    assert set(pending().values_list("solver", flat=True)) == {"exact", "greedy"}


@pytest.mark.django_db
def test_risk_band_change_queues_ward_replan(demo_icu, fast_replans):
    replan_on_risk_band_change(
        sender=None, bed="icu1-bed03", old_band="low", new_band="high"
    )
    runs = pending(Trigger.RISK_CHANGE)
    assert runs.count() == 1
    assert runs.get().ward == demo_icu


@pytest.mark.django_db
def test_risk_band_noop_cases_ignored(demo_icu, fast_replans):
    replan_on_risk_band_change(sender=None, bed="icu1-bed03", old_band="low",
                               new_band="low")  # fmt: skip
    replan_on_risk_band_change(sender=None, bed="no-such-bed", old_band="low",
                               new_band="high")  # fmt: skip
    # A first score in the low band keeps the urgency the planner assumed.
    replan_on_risk_band_change(sender=None, bed="icu1-bed03", old_band=None,
                               new_band="low")  # fmt: skip
    assert pending().count() == 0


@pytest.mark.django_db
def test_first_high_score_queues_replan(demo_icu, fast_replans):
    bed = Bed.objects.get(code="icu1-bed04")
    replan_on_risk_band_change(sender=None, bed=bed, old_band=None, new_band="high")
    assert pending(Trigger.RISK_CHANGE).count() == 1


@pytest.mark.django_db
def test_risk_band_signal_queues_replan(demo_icu, fast_replans):
    signals = pytest.importorskip("twins.signals")
    bed = Bed.objects.get(code="icu1-bed05")
    signals.risk_band_changed.send(
        sender=TwinState, bed=bed, old_band="low", new_band="medium"
    )
    assert pending(Trigger.RISK_CHANGE).count() == 1


@pytest.mark.django_db
def test_raised_risk_raises_urgency_in_next_run(demo_icu):
    twin = TwinState.objects.get(bed__code="icu1-bed02")
    twin.news2 = {"band": "high", "score": 7}
    twin.save()
    run = plan_now(demo_icu, "greedy")
    urgencies = dict(
        run.placements.filter(bed__code="icu1-bed02").values_list(
            "task_kind", "urgency"
        )
    )
    assert urgencies["ecg_sync"] == 4.0
    assert urgencies["model_update"] == 1.0


@pytest.mark.django_db
def test_heartbeat_requires_valid_token(client, demo_icu):
    node, _token = monitored("fog-icu-1-1")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}):
        response = client.post(HEARTBEAT_URL, headers=headers)
        assert response.status_code == 401
        assert "heartbeat token" in response.json()["error"]
    node.refresh_from_db()
    assert node.last_heartbeat_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "expected a JSON object"),
        ("[1, 2]", "body=[1, 2] is invalid"),
        ('{"node": "cloud-general"}', "node='cloud-general' is invalid"),
    ],
)
def test_heartbeat_bad_body_rejected(client, demo_icu, body, message):
    node, token = monitored("fog-icu-1-1")
    response = client.post(
        HEARTBEAT_URL, body, content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 400
    assert message in response.json()["error"]
    node.refresh_from_db()
    assert node.last_heartbeat_at is None


@pytest.mark.django_db
def test_heartbeat_get_not_allowed(client, demo_icu):
    assert client.get(HEARTBEAT_URL).status_code == 405


@pytest.mark.django_db
def test_heartbeat_recorded(client, demo_icu):
    node, token = monitored("fog-icu-1-1")
    response = client.post(
        HEARTBEAT_URL, {"node": node.name}, content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["node"] == "fog-icu-1-1"
    node.refresh_from_db()
    assert node.last_heartbeat_at is not None


@pytest.mark.django_db
def test_missed_heartbeat_marks_node_down(demo_icu, fast_replans):
    node, _token = monitored("fog-icu-1-1")
    unmonitored = ComputeNode.objects.get(name="fog-icu-1-2")
    ComputeNode.objects.filter(pk=node.pk).update(
        last_heartbeat_at=timezone.now() - timedelta(seconds=120)
    )
    marked = mark_silent_nodes_down()
    assert [n.name for n in marked] == ["fog-icu-1-1"]
    node.refresh_from_db()
    unmonitored.refresh_from_db()
    assert node.is_up is False
    assert unmonitored.is_up is True
    change = ChangeLog.objects.get(kind="node_state", target="fog-icu-1-1")
    assert change.user is None
    assert change.old_value == {"is_up": True}
    assert change.new_value == {"is_up": False}
    assert "no heartbeat since" in change.reason
    assert pending(Trigger.NODE_DOWN).count() == 1
    # A second check finds the node already down and queues nothing more.
    assert mark_silent_nodes_down() == []
    assert ChangeLog.objects.filter(kind="node_state").count() == 1


@pytest.mark.django_db
def test_recent_heartbeat_keeps_node_up(demo_icu):
    node, _token = monitored("fog-icu-1-1")
    record_heartbeat(node.pk)
    assert mark_silent_nodes_down() == []
    node.refresh_from_db()
    assert node.is_up is True


@pytest.mark.django_db
def test_new_token_gets_grace_period(demo_icu):
    monitored("fog-icu-1-1")
    assert mark_silent_nodes_down() == []
    later = timezone.now() + timedelta(seconds=3600)
    assert [n.name for n in mark_silent_nodes_down(now=later)] == ["fog-icu-1-1"]


@pytest.mark.django_db
def test_heartbeat_after_miss_marks_node_up(demo_icu, fast_replans):
    node, _token = monitored("cloud-general")
    later = timezone.now() + timedelta(seconds=3600)
    mark_silent_nodes_down(now=later)
    PlanningRun.objects.all().delete()
    node = record_heartbeat(node.pk)
    assert node.is_up is True
    assert pending(Trigger.NODE_UP).count() == Ward.objects.count()


@pytest.mark.django_db
def test_heartbeat_does_not_undo_admin_down(demo_icu, admin_user):
    from scheduler.heartbeats import set_node_state

    node, _token = monitored("fog-icu-1-1")
    set_node_state(node, False, "maintenance", user=admin_user)
    node = record_heartbeat(node.pk)
    assert node.is_up is False


@pytest.mark.django_db
def test_issue_heartbeat_token_command(demo_icu, capsys):
    call_command("issue_heartbeat_token", "fog-icu-1-2", reason="new server")
    token = capsys.readouterr().out.strip()
    assert ComputeNode.for_heartbeat_token(token).name == "fog-icu-1-2"
    change = ChangeLog.objects.get(kind="heartbeat_token")
    assert change.target == "fog-icu-1-2"
    assert change.reason == "new server"


@pytest.mark.django_db
def test_issue_heartbeat_token_unknown_node(demo_icu):
    with pytest.raises(CommandError, match="node='nope' is invalid: not found"):
        call_command("issue_heartbeat_token", "nope", reason="x")
    assert ChangeLog.objects.count() == 0


@pytest.fixture
def second_ward(demo_icu):
    from scheduler.demo import seed_scheduler

    ward = Ward.objects.create(code="icu-2", name="Intensive care unit 2")
    for number in (1, 2, 3):
        bed = Bed.objects.create(
            ward=ward, code=f"icu2-bed{number:02d}", label=f"Bed {number}"
        )
        TwinState.objects.create(bed=bed)
        Patient.objects.create(
            pseudonym=f"PT-W2-{number}", bed=bed, admitted_at=timezone.now()
        )
    seed_scheduler(ward)
    return ward


@pytest.mark.django_db
def test_hospital_run_plans_every_ward(second_ward):
    run = plan_now(None, "exact")
    assert run.status == RunStatus.DONE, run.error
    assert run.ward is None
    assert run.task_count == 4 * (12 + 3)
    wards = set(run.placements.values_list("bed__ward__code", flat=True))
    assert wards == {"icu-1", "icu-2"}
    # Fog servers serve only their own ward, even in one joint problem.
    for placement in run.placements.filter(tier="fog").select_related("node", "bed"):
        assert placement.node.ward_id == placement.bed.ward_id


@pytest.mark.django_db
def test_hospital_run_coalesces(second_ward):
    first = replan([None], Trigger.MANUAL)
    again = replan([None], Trigger.WEIGHT_CHANGE)
    assert [run.pk for run in first] == [run.pk for run in again]


@pytest.mark.django_db
def test_ward_plan_sees_cloud_left_by_other_wards(second_ward):
    from scheduler.planning import build_problem

    # With its fog servers down, the second ward's heavier tasks go to cloud.
    ComputeNode.objects.filter(ward=second_ward, tier="fog").update(is_up=False)
    other = plan_now(second_ward, "exact")
    used = {}
    for placement in other.placements.filter(tier="cloud").select_related("node"):
        used[placement.node.name] = (
            used.get(placement.node.name, 0.0) + placement.demand_mips
        )
    assert used, "the second ward placed nothing in a cloud region"
    planned = build_problem(Ward.objects.get(code="icu-1"))
    nodes = {node.id: node for node in planned.problem.nodes}
    for name, mips in used.items():
        total = ComputeNode.objects.get(name=name).mips
        assert nodes[name].mips == pytest.approx(total - mips)


@pytest.mark.django_db
def test_plan_now_whole_hospital(client, admin_user, demo_icu):
    client.force_login(admin_user)
    response = client.post(
        "/scheduler/runs/new/", {"ward": "hospital", "solver": "greedy"}
    )
    assert response.status_code == 302
    run = PlanningRun.objects.get()
    assert run.ward is None
    assert run.scope == "hospital"
    assert run.requested_by == admin_user
