"""Convert a ward's live twins and node inventory to a placement problem, and
store the solver's result as placements.

The network topology is the hospital's: an edge device serves only the bed it
is attached to, a fog server every bed of its ward, a cloud region every bed.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from scheduler import core
from scheduler.audit import seal
from scheduler.core import scenario
from scheduler.models import ComputeNode, Placement, PlanningRun, WeightProfile
from scheduler.models.inventory import Tier
from scheduler.models.runs import RunStatus
from twins.models import Bed, Patient

logger = logging.getLogger(__name__)

MIGRATION_PENALTY = scenario.DEFAULT_MIGRATION_PENALTY


class PlanningError(Exception):
    """Raised when a ward cannot be planned; the message gives the reason."""


@dataclass(frozen=True)
class PlannedProblem:
    problem: core.Problem
    profile: str
    beds: dict[str, Bed]
    patients: dict[str, Patient]
    nodes: dict[str, ComputeNode]


def active_weights() -> tuple[str, core.Weights]:
    profile = WeightProfile.objects.filter(is_active=True).first()
    if profile is None:
        return "balanced", core.PROFILES["balanced"]
    return profile.name, core.Weights(
        latency=profile.latency, cost=profile.cost, security=profile.security
    )


def core_node(row: ComputeNode) -> core.Node:
    return core.Node(
        id=row.name,
        tier=row.tier,
        mips=row.mips,
        memory_mb=row.memory_mb,
        security_level=row.security_level,
        cost_per_mips_hour=row.cost_per_mips_hour,
        cost_per_gb=row.cost_per_gb,
        fixed_cost_per_hour=row.fixed_cost_per_hour,
        is_up=row.is_up,
        bed=row.bed.code if row.bed_id else None,
        ward=row.ward.code if row.ward_id else None,
    )


def links_for(row: ComputeNode, beds: list[Bed]) -> list[core.Link]:
    if row.tier == Tier.EDGE:
        served = [bed for bed in beds if bed.pk == row.bed_id]
    elif row.tier == Tier.FOG:
        served = [bed for bed in beds if bed.ward_id == row.ward_id]
    else:
        served = beds
    return [
        core.Link(
            node=row.name,
            bed=bed.code,
            latency_ms=row.latency_ms,
            bandwidth_mbps=row.bandwidth_mbps,
        )
        for bed in served
    ]


def _current_placement(ward) -> dict[str, str]:
    last = (
        PlanningRun.objects.filter(ward=ward, status=RunStatus.DONE)
        .order_by("-finished_at")
        .first()
    )
    if last is None:
        return {}
    return dict(last.placements.values_list("task_id", "node__name"))


def build_problem(ward) -> PlannedProblem:
    beds = list(Bed.objects.filter(ward=ward).select_related("twin").order_by("code"))
    patients = {
        patient.bed.code: patient
        for patient in Patient.objects.select_related("bed").filter(
            bed__ward=ward, discharged_at__isnull=True
        )
    }
    occupied = [bed for bed in beds if bed.code in patients]
    if not occupied:
        raise PlanningError(f"ward {ward.code} has no admitted patients to plan")

    tasks = []
    for bed in occupied:
        twin = getattr(bed, "twin", None)
        # A partial score is a lower bound on the risk, so its band still
        # raises urgency; a bed with no score yet is planned as low risk.
        band = (twin.news2 or {}).get("band") if twin else None
        tasks += scenario.patient_tasks(
            bed.code, scenario.urgency_for_risk(band or "low")
        )

    rows = list(
        ComputeNode.objects.select_related("bed", "ward").filter(
            Q(ward=ward) | Q(ward__isnull=True)
        )
    )
    if not rows:
        raise PlanningError(f"ward {ward.code} has no compute nodes")
    links = [link for row in rows for link in links_for(row, occupied)]
    profile, weights = active_weights()
    try:
        problem = core.Problem(
            tasks=tasks,
            nodes=[core_node(row) for row in rows],
            links=links,
            weights=weights,
            current=_current_placement(ward),
            migration_penalty=MIGRATION_PENALTY,
        )
    except ValueError as error:
        raise PlanningError(f"invalid placement problem: {error}") from None
    return PlannedProblem(
        problem=problem,
        profile=profile,
        beds={bed.code: bed for bed in occupied},
        patients=patients,
        nodes={row.name: row for row in rows},
    )


def _placements(run, planned: PlannedProblem, result) -> list[Placement]:
    tasks = {task.id: task for task in planned.problem.tasks}
    rows = []
    for task_id, terms in result.evaluation.per_task.items():
        task = tasks[task_id]
        node = planned.nodes[terms.node]
        patient = planned.patients.get(task.bed)
        rows.append(
            Placement(
                run=run,
                task_id=task_id,
                task_kind=task.kind.value,
                bed=planned.beds[task.bed],
                patient_pseudonym=patient.pseudonym if patient else "",
                urgency=task.urgency,
                node=node,
                tier=node.tier,
                demand_mips=task.demand_mips,
                memory_mb=task.memory_mb,
                min_security=task.min_security,
                latency_ms=terms.latency_ms,
                cost=terms.cost_per_hour,
                security_exposure=terms.exposure,
            )
        )
    return rows


def solve_and_store(run: PlanningRun, planned: PlannedProblem) -> str:
    """Solve ``planned`` with the run's solver and store the outcome once.

    Placements and the run's outcome are written in one transaction under a
    row lock, and only if no other attempt finished the run first.
    """
    problem = planned.problem
    time_limit = run.time_limit_s or settings.EXACT_TIME_LIMIT_SECONDS
    result = core.solve(
        problem, solver=run.solver, time_limit_s=time_limit, seed=run.pk
    )

    with transaction.atomic():
        locked = PlanningRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != RunStatus.RUNNING:
            return f"already {locked.status}"
        if result.has_solution and result.feasible:
            Placement.objects.bulk_create(_placements(locked, planned, result))
            locked.status = RunStatus.DONE
        else:
            locked.status = RunStatus.FAILED
            locked.error = "; ".join(result.reasons) or (
                f"solver ended with status {result.status.value} and no "
                "feasible placement"
            )
        locked.weights = {
            "profile": planned.profile,
            "latency": problem.weights.latency,
            "cost": problem.weights.cost,
            "security": problem.weights.security,
        }
        locked.solver_status = result.status.value
        locked.feasible = result.feasible
        locked.objective = result.objective
        locked.latency_term = result.latency_term
        locked.cost_term = result.cost_term
        locked.security_term = result.security_term
        locked.bound = result.bound
        locked.gap_pct = result.gap_pct
        locked.wall_s = result.wall_s
        locked.task_count = len(problem.tasks)
        locked.finished_at = timezone.now()
        locked.save()
        seal(locked)
    return f"{locked.status}: {result.status.value}, objective {result.objective}"
