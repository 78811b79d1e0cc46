"""Admin tuning: weights with preview, node inventory, change log, roles."""

import html

import pytest

from scheduler.models import ChangeLog, ComputeNode, PlanningRun, WeightProfile
from scheduler.models.runs import RunStatus, Trigger
from tests.scheduler_service.conftest import plan_now

WEIGHTS_URL = "/scheduler/weights/"


def active_profile() -> WeightProfile:
    return WeightProfile.objects.get(is_active=True)


def node_form(node: ComputeNode, **changes) -> dict:
    data = {
        "name": node.name, "tier": node.tier, "ward": node.ward_id or "",
        "bed": node.bed_id or "", "mips": node.mips, "memory_mb": node.memory_mb,
        "security_level": node.security_level,
        "cost_per_mips_hour": node.cost_per_mips_hour,
        "cost_per_gb": node.cost_per_gb,
        "fixed_cost_per_hour": node.fixed_cost_per_hour,
        "latency_ms": node.latency_ms, "bandwidth_mbps": node.bandwidth_mbps,
        "source": node.source, "reason": "test change",
    }  # fmt: skip
    if node.is_up:
        data["is_up"] = "on"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
def test_weights_preview_stores_nothing(admin_client, planned_run):
    runs_before = PlanningRun.objects.count()
    response = admin_client.post(
        WEIGHTS_URL,
        {"profile": "custom", "latency": "0", "cost": "1", "security": "0",
         "reason": "cut cost", "action": "preview"},
    )  # fmt: skip
    assert response.status_code == 200
    (preview,) = response.context["previews"]
    assert preview.error == ""
    assert preview.baseline == "placement in force"
    in_force = dict(planned_run.placements.values_list("task_id", "node__name"))
    assert preview.moves, "a cost-only weighting should move some task"
    for move in preview.moves:
        assert in_force[move.task] == move.old_node
        assert move.new_node != move.old_node
    # Cost alone now counts, so the cost term cannot rise.
    assert preview.changes["cost"] <= 1e-9
    assert PlanningRun.objects.count() == runs_before
    assert active_profile().name == "balanced"
    assert ChangeLog.objects.count() == 0
    assert "Apply and re-plan" in response.content.decode()


@pytest.mark.django_db
def test_weights_apply_logs_and_replans(admin_client, admin_user, demo_icu,
                                        fast_replans):  # fmt: skip
    response = admin_client.post(
        WEIGHTS_URL,
        {"profile": "custom", "latency": "0.5", "cost": "0.25",
         "security": "0.25", "reason": "night shift", "action": "apply"},
    )  # fmt: skip
    assert response.status_code == 302
    profile = active_profile()
    assert (profile.name, profile.latency, profile.cost) == ("custom", 0.5, 0.25)
    change = ChangeLog.objects.get()
    assert change.user == admin_user
    assert change.kind == "weights"
    assert change.old_value["profile"] == "balanced"
    assert change.new_value == {
        "profile": "custom", "latency": 0.5, "cost": 0.25, "security": 0.25
    }  # fmt: skip
    assert change.reason == "night shift"
    runs = PlanningRun.objects.filter(trigger=Trigger.WEIGHT_CHANGE)
    assert runs.count() == 1
    run = plan_now(demo_icu, "greedy")
    assert run.pk == runs.get().pk
    assert run.weights["profile"] == "custom"
    assert run.weights["latency"] == 0.5


@pytest.mark.django_db
def test_weights_choose_profile(admin_client, demo_icu):
    response = admin_client.post(
        WEIGHTS_URL,
        {"profile": "security", "reason": "audit finding", "action": "apply"},
    )
    assert response.status_code == 302
    assert active_profile().name == "security"
    assert WeightProfile.objects.filter(is_active=True).count() == 1
    assert ChangeLog.objects.get().new_value["security"] == 0.6


@pytest.mark.django_db
def test_weights_same_as_active_rejected(admin_client, demo_icu):
    response = admin_client.post(
        WEIGHTS_URL, {"profile": "balanced", "reason": "x", "action": "apply"}
    )
    assert response.status_code == 400
    assert "already in force" in response.content.decode()
    assert ChangeLog.objects.count() == 0
    assert PlanningRun.objects.count() == 0


BAD_WEIGHTS = [
    ({"profile": "fastest"}, "profile='fastest' is invalid: "
     "expected one of balanced, latency, security, custom"),
    ({"latency": "-1"}, "latency='-1' is invalid: expected a number >= 0"),
    ({"cost": "abc"}, "cost='abc' is invalid: expected a number from 0"),
    ({"security": "nan"}, "security='nan' is invalid"),
    ({"security": "1e9"}, "security='1e9' is invalid: expected a number <= 1000"),
    ({"latency": "0", "cost": "0", "security": "0"},
     "latency+cost+security=0 is invalid: at least one weight must be > 0"),
    ({"cost": ""}, "cost='' is invalid: a weight is required"),
    ({"reason": ""}, "reason='' is invalid: a reason for the change is required"),
    ({"action": "delete"}, "action='delete' is invalid: expected preview or apply"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "message"), BAD_WEIGHTS)
def test_weights_bad_input_rejected(admin_client, demo_icu, change, message):
    form = {"profile": "custom", "latency": "1", "cost": "1", "security": "1",
            "reason": "try", "action": "apply"}  # fmt: skip
    form.update(change)
    response = admin_client.post(WEIGHTS_URL, form)
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert active_profile().name == "balanced"
    assert ChangeLog.objects.count() == 0
    assert PlanningRun.objects.count() == 0


@pytest.mark.django_db
def test_node_edit_logs_and_replans(admin_client, admin_user, demo_icu,
                                    fast_replans):  # fmt: skip
    node = ComputeNode.objects.get(name="fog-icu-1-2")
    response = admin_client.post(
        f"/scheduler/nodes/{node.name}/",
        node_form(node, mips="5600", reason="RAM and CPU upgrade"),
    )
    assert response.status_code == 302
    node.refresh_from_db()
    assert node.mips == 5600
    change = ChangeLog.objects.get()
    assert (change.kind, change.target, change.user) == ("node", node.name, admin_user)
    assert change.old_value == {"mips": 2800.0}
    assert change.new_value == {"mips": 5600.0}
    assert change.reason == "RAM and CPU upgrade"
    assert PlanningRun.objects.filter(trigger=Trigger.INVENTORY_CHANGE).count() == 1


@pytest.mark.django_db
def test_node_set_down_moves_its_tasks(admin_client, planned_run, fast_replans):
    node = ComputeNode.objects.get(name="fog-icu-1-1")
    assert planned_run.placements.filter(node=node).exists()
    form = node_form(node, reason="power failure")
    del form["is_up"]
    assert admin_client.post(f"/scheduler/nodes/{node.name}/", form).status_code == 302
    node.refresh_from_db()
    assert node.is_up is False
    change = ChangeLog.objects.get()
    assert (change.kind, change.new_value) == ("node_state", {"is_up": False})
    run = PlanningRun.objects.get(status=RunStatus.PENDING)
    assert run.trigger == Trigger.NODE_DOWN
    run = plan_now(planned_run.ward, "greedy")
    assert run.status == RunStatus.DONE, run.error
    assert not run.placements.filter(node=node).exists()
    assert run.placements.count() == run.task_count


BAD_NODE_FIELDS = [
    ({"mips": "0"}, "mips='0' is invalid: Ensure this value is greater "
     "than or equal to 1"),
    ({"security_level": "9"}, "security_level='9' is invalid"),
    ({"bandwidth_mbps": "fast"}, "bandwidth_mbps='fast' is invalid"),
    ({"tier": "mainframe"}, "tier='mainframe' is invalid"),
    ({"ward": ""}, "ward='' is invalid: a fog node needs the ward"),
    ({"reason": "  "}, "reason='  ' is invalid: a reason"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "message"), BAD_NODE_FIELDS)
def test_node_bad_input_rejected(admin_client, demo_icu, change, message):
    node = ComputeNode.objects.get(name="fog-icu-1-2")
    before = ComputeNode.objects.filter(pk=node.pk).values().get()
    response = admin_client.post(
        f"/scheduler/nodes/{node.name}/", node_form(node, **change)
    )
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert ComputeNode.objects.filter(pk=node.pk).values().get() == before
    assert ChangeLog.objects.count() == 0
    assert PlanningRun.objects.count() == 0


@pytest.mark.django_db
def test_node_unchanged_save_rejected(admin_client, demo_icu):
    node = ComputeNode.objects.get(name="fog-icu-1-2")
    response = admin_client.post(f"/scheduler/nodes/{node.name}/", node_form(node))
    assert response.status_code == 400
    assert "already has these values" in response.content.decode()
    assert ChangeLog.objects.count() == 0


@pytest.mark.django_db
def test_node_added(admin_client, demo_icu, fast_replans):
    template = ComputeNode.objects.get(name="fog-icu-1-2")
    template.pk = None
    form = node_form(template, name="fog-icu-1-3", reason="new rack")
    response = admin_client.post("/scheduler/nodes/new/", form)
    assert response.status_code == 302
    assert ComputeNode.objects.filter(name="fog-icu-1-3").exists()
    change = ChangeLog.objects.get()
    assert change.old_value is None
    assert change.new_value["mips"] == 2800.0


MUTATIONS = [
    (WEIGHTS_URL, {"profile": "security", "reason": "x", "action": "apply"}),
    (WEIGHTS_URL, {"profile": "security", "reason": "x", "action": "preview"}),
    ("/scheduler/nodes/fog-icu-1-2/", {"mips": "1", "reason": "x"}),
    ("/scheduler/nodes/new/", {"name": "x", "reason": "x"}),
    ("/scheduler/runs/new/", {"ward": "icu-1", "solver": "greedy"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["nurse", "auditor", "none"])
@pytest.mark.parametrize(("url", "form"), MUTATIONS)
def test_only_admin_changes_anything(client, demo_icu, nurse, auditor,
                                     no_role_user, role, url, form):  # fmt: skip
    user = {"nurse": nurse, "auditor": auditor, "none": no_role_user}[role]
    client.force_login(user)
    nodes_before = list(ComputeNode.objects.values())
    response = client.post(url, form)
    assert response.status_code == 403
    assert active_profile().name == "balanced"
    assert list(ComputeNode.objects.values()) == nodes_before
    assert ChangeLog.objects.count() == 0
    assert PlanningRun.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "roles"),
    [
        (WEIGHTS_URL, {"admin"}),
        ("/scheduler/nodes/", {"admin"}),
        ("/scheduler/nodes/fog-icu-1-1/", {"admin"}),
        ("/scheduler/changes/", {"admin", "auditor"}),
        ("/scheduler/placements/", {"admin", "auditor"}),
        ("/scheduler/charts/", {"admin", "auditor"}),
    ],
)
def test_tuning_and_audit_pages_roles(client, demo_icu, nurse, admin_user, auditor,
                                      no_role_user, url, roles):  # fmt: skip
    users = {"nurse": nurse, "admin": admin_user, "auditor": auditor,
             "none": no_role_user}  # fmt: skip
    assert client.get(url).status_code == 302
    for role, user in users.items():
        client.force_login(user)
        expected = 200 if role in roles else 403
        assert client.get(url).status_code == expected, role


@pytest.mark.django_db
def test_change_log_lists_changes_for_auditor(client, auditor, admin_client,
                                              demo_icu):  # fmt: skip
    admin_client.post(
        WEIGHTS_URL, {"profile": "latency", "reason": "stroke alert", "action": "apply"}
    )
    client.force_login(auditor)
    page = client.get("/scheduler/changes/").content.decode()
    assert "stroke alert" in page
    assert "admin-1" in page
