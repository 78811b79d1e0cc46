"""Preview of a weight change: the current snapshot solved with new weights.

Nothing is stored. The baseline of each ward is its placement in force,
evaluated on the same snapshot. The normalised terms do not depend on the
weights, so before and after compare directly.
"""

from dataclasses import dataclass

from django.conf import settings

from scheduler import core
from scheduler.planning import PlanningError, build_problem
from twins.models import Ward

# Exact solves run inside the admin's request, so they get a short limit;
# a 12-bed ward solves to optimality in well under a second.
PREVIEW_TIME_LIMIT_SECONDS = 5.0
TERMS = ("latency", "cost", "security")


@dataclass(frozen=True)
class Move:
    task: str
    kind: str
    bed: str
    old_node: str
    new_node: str


@dataclass(frozen=True)
class WardPreview:
    ward: Ward
    error: str = ""
    baseline: str = ""
    moves: tuple[Move, ...] = ()
    before: dict | None = None
    after: dict | None = None
    solver_status: str = ""

    def change(self, term: str) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after[term] - self.before[term]

    @property
    def changes(self) -> dict[str, float | None]:
        return {term: self.change(term) for term in TERMS + ("objective",)}


def _figures(evaluation: core.Evaluation, objective: float) -> dict:
    return {
        "latency": evaluation.latency,
        "cost": evaluation.cost,
        "security": evaluation.security,
        "objective": objective,
        "urgency_latency_ms": evaluation.urgency_latency_ms,
        "cost_per_hour": evaluation.cost_per_hour,
        "exposure": evaluation.exposure,
    }


def _baseline(problem: core.Problem, old_weights: core.Weights):
    current = dict(problem.current or {})
    complete = all(task.id in current for task in problem.tasks)
    if complete and not core.check_feasibility(problem, current):
        return "placement in force", current
    # Without a complete, still feasible placement in force, the baseline is
    # what a re-plan with the old weights would store.
    old = core.Problem(
        problem.tasks, problem.nodes, problem.links, old_weights,
        current=problem.current, migration_penalty=problem.migration_penalty,
    )  # fmt: skip
    result = core.solve(old, "exact", time_limit_s=PREVIEW_TIME_LIMIT_SECONDS)
    if not (result.has_solution and result.feasible):
        return None, None
    return "re-plan with the current weights", result.assignment


def preview_ward(ward, new_weights: core.Weights, old_weights: core.Weights):
    try:
        planned = build_problem(ward, weights=new_weights)
    except PlanningError as error:
        return WardPreview(ward, error=str(error))
    problem = planned.problem
    label, before = _baseline(problem, old_weights)
    if before is None:
        return WardPreview(ward, error="no feasible placement with current weights")
    limit = min(PREVIEW_TIME_LIMIT_SECONDS, settings.EXACT_TIME_LIMIT_SECONDS)
    result = core.solve(problem, "exact", time_limit_s=limit)
    if not (result.has_solution and result.feasible):
        reasons = "; ".join(result.reasons) or result.status.value
        return WardPreview(ward, error=f"no feasible placement: {reasons}")
    tasks = {task.id: task for task in problem.tasks}
    moves = tuple(
        Move(task_id, tasks[task_id].kind.value, tasks[task_id].bed,
             before[task_id], node)
        for task_id, node in sorted(result.assignment.items())
        if before.get(task_id) != node
    )  # fmt: skip
    old_evaluation = core.evaluate(problem, before)
    return WardPreview(
        ward,
        baseline=label,
        moves=moves,
        before=_figures(old_evaluation, old_evaluation.objective),
        after=_figures(result.evaluation, result.objective),
        solver_status=result.status.value,
    )


def preview_weights(new_weights: core.Weights, old_weights: core.Weights):
    return [preview_ward(ward, new_weights, old_weights) for ward in Ward.objects.all()]
