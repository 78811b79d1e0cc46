"""Convert a ward's live twins and node inventory to a placement problem, and
store the solver's result as placements.

The network topology is the hospital's: an edge device serves only the bed it
is attached to, a fog server every bed of its ward, a cloud region every bed.
"""

import logging
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from scheduler import core
from scheduler.audit import seal
from scheduler.core import scenario
from scheduler.core.policy import Policy
from scheduler.models import (
    ComputeNode,
    HybridPolicy,
    Placement,
    PlanningRun,
    WeightProfile,
)
from scheduler.models.inventory import Tier
from scheduler.models.runs import RunStatus
from scheduler.snapshot import problem_to_dict
from twins.models import Bed, Patient, Ward
from twins.task_costs import load_costs

logger = logging.getLogger(__name__)

MIGRATION_PENALTY = scenario.DEFAULT_MIGRATION_PENALTY
# Capacity, in MIPS or MB, left on a shared node that other wards fill. The
# core model needs a positive figure, and this one fits no task.
MIN_REMAINING_CAPACITY = 1e-3


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


# ecg_sync is timed on a 10 s chunk but the placement model syncs 0.5 s
# batches, so its measured cost is scaled to the batch. The other tasks are
# timed per run as the model runs them.
MEASURED_SHARE_PER_RUN = {
    "ecg_sync": 0.5 / 10,
    "anomaly_detection": 1.0,
    "risk_inference": 1.0,
    "model_update": 1.0,
}


def measured_demands() -> dict | None:
    """Return MI per run of each task kind as measured, or None for the
    published figures of the scenario profiles (``MEDTWIN_TASK_DEMANDS``)."""
    if settings.TASK_DEMANDS != "measured":
        return None
    costs = load_costs()
    return {
        core.TaskKind(name): costs.million_instructions(name) * share
        for name, share in MEASURED_SHARE_PER_RUN.items()
    }


def placements_in_force(ward_ids) -> dict[str, Placement]:
    """Return the placement in force for each task of the given wards.

    For each ward that is the placement of the run, of that ward or of the
    whole hospital, that finished last.
    """
    in_force = {}
    for ward_id in ward_ids:
        last = (
            PlanningRun.objects.filter(
                Q(ward_id=ward_id) | Q(ward__isnull=True), status=RunStatus.DONE
            )
            .order_by("-finished_at", "-pk")
            .first()
        )
        if last is None:
            continue
        for placement in last.placements.filter(bed__ward_id=ward_id).select_related(
            "node"
        ):
            in_force[placement.task_id] = placement
    return in_force


def _shared_load(ward, rows: list[ComputeNode]) -> dict[str, tuple[float, float]]:
    # Cloud regions serve every ward, so a plan of one ward gets only the
    # capacity that the other wards' placements in force leave free.
    shared = {row.name for row in rows if row.ward_id is None}
    if ward is None or not shared:
        return {}
    others = Ward.objects.exclude(pk=ward.pk).values_list("pk", flat=True)
    load = {}
    for placement in placements_in_force(others).values():
        if placement.node.name in shared:
            mips, memory = load.get(placement.node.name, (0.0, 0.0))
            load[placement.node.name] = (
                mips + placement.demand_mips,
                memory + placement.memory_mb,
            )
    return load


def _core_nodes(ward, rows: list[ComputeNode]) -> list[core.Node]:
    load = _shared_load(ward, rows)
    nodes = []
    for row in rows:
        node = core_node(row)
        used_mips, used_memory = load.get(row.name, (0.0, 0.0))
        if used_mips or used_memory:
            node = replace(
                node,
                mips=max(row.mips - used_mips, MIN_REMAINING_CAPACITY),
                memory_mb=max(row.memory_mb - used_memory, MIN_REMAINING_CAPACITY),
            )
        nodes.append(node)
    return nodes


def build_problem(ward, weights: core.Weights | None = None) -> PlannedProblem:
    """Build the placement problem of ``ward``, or of every ward if None.

    ``weights`` replaces the active profile's weights, for previews.
    """
    scope = ward.code if ward is not None else "the hospital"
    bed_rows = Bed.objects.select_related("twin").order_by("code")
    if ward is not None:
        bed_rows = bed_rows.filter(ward=ward)
    beds = list(bed_rows)
    patients = {
        patient.bed.code: patient
        for patient in Patient.objects.select_related("bed").filter(
            bed__in=beds, discharged_at__isnull=True
        )
    }
    occupied = [bed for bed in beds if bed.code in patients]
    if not occupied:
        raise PlanningError(f"{scope} has no admitted patients to plan")

    demands = measured_demands()
    tasks = []
    for bed in occupied:
        twin = getattr(bed, "twin", None)
        # A partial score is a lower bound on the risk, so its band still
        # raises urgency. A bed with no score yet is planned as low risk.
        band = (twin.news2 or {}).get("band") if twin else None
        tasks += scenario.patient_tasks(
            bed.code, scenario.urgency_for_risk(band or "low"), mi_per_run=demands
        )

    rows = ComputeNode.objects.select_related("bed", "ward")
    if ward is not None:
        rows = rows.filter(Q(ward=ward) | Q(ward__isnull=True))
    rows = list(rows)
    if not rows:
        raise PlanningError(f"{scope} has no compute nodes")
    links = [link for row in rows for link in links_for(row, occupied)]
    profile, active = active_weights()
    if weights is not None:
        profile = "preview"
    ward_ids = {bed.ward_id for bed in occupied}
    current = {
        task_id: placement.node.name
        for task_id, placement in placements_in_force(ward_ids).items()
    }
    try:
        problem = core.Problem(
            tasks=tasks,
            nodes=_core_nodes(ward, rows),
            links=links,
            weights=weights or active,
            current=current,
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


def _load_policy(ward) -> Policy:
    row = HybridPolicy.objects.filter(ward=ward).first()
    if row is None or not row.data:
        return Policy()
    try:
        return Policy.from_dict(row.data)
    except ValueError as error:
        # The stored row stays as it is until a run stores a new policy.
        logger.warning(
            "hybrid policy %s is invalid, starting afresh: %s", row.pk, error
        )
        return Policy()


def _store_policy(run: PlanningRun, policy: Policy) -> None:
    # NOTE: two hybrid runs of one ward that overlap both start from the same
    # stored policy, and the one that finishes last overwrites the other's
    # update. If the ward has no policy row yet, the second one fails on the
    # unique constraint instead. Overlap needs two workers and a trigger
    # during a hybrid run.
    row, _ = HybridPolicy.objects.select_for_update().get_or_create(ward=run.ward)
    row.data = policy.to_dict()
    row.updates = policy.updates
    row.last_run = run
    row.save()


def checked_result(problem: core.Problem, solver: str, result):
    """Return the result to store and, if it is not the solver's own, why.

    Every placement is checked again by the independent feasibility checker.
    A solver stopped by its time limit, or one whose placement fails the
    check or that found none, is compared with greedy and the better valid
    placement is kept. If none is valid the run fails, and the last valid
    placement stays in force.
    """
    violations = (
        core.check_feasibility(problem, result.assignment)
        if result.has_solution
        else []
    )
    valid = result.has_solution and not violations
    if valid and result.status is not core.Status.TIME_LIMIT:
        return result, ""
    if result.status is core.Status.INFEASIBLE or solver == "greedy":
        return result, ""
    if violations:
        reason = (
            f"{solver} placement failed the feasibility check ({violations[0].message})"
        )
    elif not result.has_solution:
        detail = result.reasons[0] if result.reasons else result.status.value
        reason = f"{solver} ended with no placement ({detail})"
    else:
        reason = (
            f"{solver} hit its time limit without proving optimality "
            f"(gap {result.gap_pct:.2f} %)"
            if result.gap_pct is not None
            else f"{solver} hit its time limit without proving optimality"
        )
    greedy = core.solve(problem, solver="greedy")
    greedy_valid = greedy.has_solution and not core.check_feasibility(
        problem, greedy.assignment
    )
    if valid and (not greedy_valid or result.objective <= greedy.objective):
        return result, f"{reason}; kept its placement, better than greedy's"
    if greedy_valid:
        return greedy, (
            f"{reason}; stored the greedy placement instead "
            f"(objective {greedy.objective:.6f})"
        )
    return result, (
        f"{reason}; greedy found no valid placement either, so the last valid "
        "placement stays in force"
    )


def solve_and_store(run: PlanningRun, planned: PlannedProblem) -> str:
    """Solve ``planned`` with the run's solver and store the outcome once.

    Placements, the run's outcome, its snapshot and, for the hybrid solver,
    the learned policy are written in one transaction under a row lock, and
    only if no other attempt finished the run first.
    """
    problem = planned.problem
    time_limit = run.time_limit_s or settings.EXACT_TIME_LIMIT_SECONDS
    policy = _load_policy(run.ward) if run.solver == "hybrid" else None
    result = core.solve(
        problem, solver=run.solver, time_limit_s=time_limit, seed=run.pk,
        policy=policy,
    )  # fmt: skip
    result, fallback = checked_result(problem, run.solver, result)
    if fallback:
        logger.warning("run %s (%s): %s", run.pk, run.scope, fallback)

    with transaction.atomic():
        locked = PlanningRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != RunStatus.RUNNING:
            return f"already {locked.status}"
        if result.has_solution and result.feasible:
            Placement.objects.bulk_create(_placements(locked, planned, result))
            locked.status = RunStatus.DONE
            if policy is not None:
                _store_policy(locked, policy)
        else:
            locked.status = RunStatus.FAILED
            locked.error = "; ".join(result.reasons) or (
                f"solver ended with status {result.status.value} and no "
                "feasible placement"
            )
        locked.fallback = fallback
        locked.snapshot = problem_to_dict(problem)
        locked.weights = {
            "task_demands": settings.TASK_DEMANDS,
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
