"""The placement log's hash chain detects edited, deleted and reordered rows."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from scheduler.audit import GENESIS_HASH, seal, verify_chain
from scheduler.models import ComputeNode, Placement, PlanningRun
from scheduler.models.runs import RunStatus, Trigger


def finished_run(ward, node, objective: float) -> PlanningRun:
    run = PlanningRun.objects.create(
        ward=ward,
        solver="greedy",
        trigger=Trigger.SCHEDULE,
        status=RunStatus.DONE,
        objective=objective,
        finished_at=timezone.now(),
        task_count=1,
    )
    Placement.objects.create(
        run=run, task_id="icu1-bed01/ecg_sync", task_kind="ecg_sync",
        bed=node.bed, urgency=1.0, node=node, tier=node.tier, demand_mips=100.0,
        memory_mb=64.0, min_security=2, latency_ms=3.5, cost=0.01,
        security_exposure=0.2,
    )  # fmt: skip
    seal(run)
    return run


@pytest.fixture
def chain(demo_icu):
    node = ComputeNode.objects.filter(tier="edge").first()
    return [finished_run(demo_icu, node, 0.1 * (i + 1)) for i in range(3)]


@pytest.mark.django_db
def test_chain_links_each_run_to_previous(chain):
    assert chain[0].previous_hash == GENESIS_HASH
    assert chain[1].previous_hash == chain[0].record_hash
    assert chain[2].previous_hash == chain[1].record_hash
    report = verify_chain()
    assert report.intact
    assert report.checked == 3


@pytest.mark.django_db
def test_chain_detects_edited_run(chain):
    PlanningRun.objects.filter(pk=chain[1].pk).update(objective=0.0001)
    report = verify_chain()
    assert report.broken_at == 1
    assert report.run_id == chain[1].pk
    assert report.checked == 1


@pytest.mark.django_db
def test_chain_detects_edited_placement(chain):
    Placement.objects.filter(run=chain[2]).update(latency_ms=1.0)
    report = verify_chain()
    assert report.broken_at == 2
    assert "changed after sealing" in report.reason


@pytest.mark.django_db
def test_chain_detects_deleted_run(chain):
    PlanningRun.objects.filter(pk=chain[1].pk).delete()
    report = verify_chain()
    assert report.broken_at == 1
    assert "deleted" in report.reason


@pytest.mark.django_db
def test_verify_command_reports_first_break(chain):
    Placement.objects.filter(run=chain[0]).update(cost=99.0)
    with pytest.raises(CommandError, match=f"index 0 \\(run {chain[0].pk}\\)"):
        call_command("verify_placement_log")


@pytest.mark.django_db
def test_chain_detects_edited_snapshot(demo_icu):
    from tests.scheduler_service.conftest import plan_now

    run = plan_now(demo_icu, "greedy")
    assert verify_chain().intact
    snapshot = run.snapshot
    snapshot["nodes"][0]["security_level"] = 5
    PlanningRun.objects.filter(pk=run.pk).update(snapshot=snapshot)
    report = verify_chain()
    assert report.run_id == run.pk
    assert "changed after sealing" in report.reason
