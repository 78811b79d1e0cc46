"""Why each task runs where it does: the explanation of one stored placement.

Everything is recomputed from the run's snapshot, the problem exactly as
the solver saw it, with the core's own objective, so an explanation stays
valid after the inventory or the weights change.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from scheduler import core
from scheduler.core.objective import latency_ms, references
from scheduler.snapshot import problem_from_dict

# A capacity, memory or deadline constraint counts as binding when less than
# this share of its limit is left.
BINDING_SLACK_SHARE = 0.01
TERMS = ("latency", "cost", "security", "migration")


@dataclass(frozen=True)
class Alternative:
    """Another node for the task: why it was not chosen.

    ``reasons`` lists the constraints that rule the node out. If there are
    none, ``delta`` is the change of each weighted objective term were the
    task moved there, and ``objective_delta`` their sum.
    """

    node: str
    tier: str
    reasons: tuple[str, ...] = ()
    delta: dict[str, float] = field(default_factory=dict)
    objective_delta: float | None = None

    @property
    def feasible(self) -> bool:
        return not self.reasons

    @property
    def worst_term(self) -> str | None:
        if not self.delta:
            return None
        return max(self.delta, key=self.delta.get)


@dataclass(frozen=True)
class Explanation:
    """The reasons a task runs on ``node``.

    ``terms`` has the task's raw figures, its own share of each weighted
    objective term (``task_*``, without the node's fixed cost) and the run's
    weighted terms (``run_*``).
    """

    task: core.Task
    node: core.Node
    weights: core.Weights
    terms: dict[str, float]
    binding: tuple[str, ...]
    alternatives: tuple[Alternative, ...]
    runner_up: Alternative | None

    def as_dict(self) -> dict:
        return {
            "task": self.task.id,
            "node": self.node.id,
            "weights": {
                "latency": self.weights.latency,
                "cost": self.weights.cost,
                "security": self.weights.security,
            },
            "terms": self.terms,
            "binding": list(self.binding),
            "alternatives": [
                {
                    "node": alt.node,
                    "tier": alt.tier,
                    "reasons": list(alt.reasons),
                    "delta": alt.delta,
                    "objective_delta": alt.objective_delta,
                }
                for alt in self.alternatives
            ],
            "runner_up": self.runner_up.node if self.runner_up else None,
            "runner_up_objective_delta": (
                self.runner_up.objective_delta if self.runner_up else None
            ),
        }


def _weighted(problem: core.Problem, evaluation: core.Evaluation) -> dict:
    weights = problem.weights
    return {
        "latency": weights.latency * evaluation.latency / weights.total,
        "cost": weights.cost * evaluation.cost / weights.total,
        "security": weights.security * evaluation.security / weights.total,
        "migration": evaluation.migration,
    }


def _loads(problem: core.Problem, assignment: dict[str, str]):
    mips = defaultdict(float)
    memory = defaultdict(float)
    for task in problem.tasks:
        node_id = assignment.get(task.id)
        mips[node_id] += task.demand_mips
        memory[node_id] += task.memory_mb
    return mips, memory


def _task_latency(problem, task, node) -> float | None:
    link = problem.link(node.id, task.bed)
    if link is None:
        return None
    return latency_ms(task, node, link.latency_ms, link.bandwidth_mbps)


def _blocking_reasons(problem, task, node, mips, memory) -> tuple[str, ...]:
    if not node.is_up:
        return ("node is down",)
    latency = _task_latency(problem, task, node)
    if latency is None:
        return (f"no network path to bed {task.bed}",)
    reasons = []
    if node.security_level < task.min_security:
        reasons.append(
            f"security below minimum: level {node.security_level}, "
            f"task needs {task.min_security}"
        )
    if task.deadline_ms is not None and latency > task.deadline_ms:
        reasons.append(
            f"deadline exceeded: {latency:.1f} ms over {task.deadline_ms:g} ms"
        )
    if mips[node.id] + task.demand_mips > node.mips * (1 + 1e-9):
        reasons.append(
            f"capacity full: {mips[node.id]:.0f} of {node.mips:.0f} MIPS used, "
            f"task needs {task.demand_mips:.0f}"
        )
    if memory[node.id] + task.memory_mb > node.memory_mb * (1 + 1e-9):
        reasons.append(
            f"memory full: {memory[node.id]:.0f} of {node.memory_mb:.0f} MB used, "
            f"task needs {task.memory_mb:.0f}"
        )
    return tuple(reasons)


def _binding(problem, task, node, mips, memory) -> tuple[str, ...]:
    binding = []
    if node.security_level == task.min_security:
        binding.append(f"security: node level {node.security_level} is the minimum")
    for name, used, limit, unit in (
        ("capacity", mips[node.id], node.mips, "MIPS"),
        ("memory", memory[node.id], node.memory_mb, "MB"),
    ):
        if limit - used <= BINDING_SLACK_SHARE * limit:
            binding.append(f"{name} of {node.id}: {used:.0f} of {limit:.0f} {unit}")
    latency = _task_latency(problem, task, node)
    if task.deadline_ms is not None and latency is not None:
        if task.deadline_ms - latency <= BINDING_SLACK_SHARE * task.deadline_ms:
            binding.append(f"deadline: {latency:.1f} of {task.deadline_ms:g} ms")
    return tuple(binding)


def explain(snapshot: dict, assignment: dict[str, str], task_id: str) -> Explanation:
    """Explain why ``task_id`` runs on its node in ``assignment``.

    Raises ``ValueError`` if the snapshot is invalid or the task is not in it.
    """
    problem = problem_from_dict(snapshot)
    tasks = {task.id: task for task in problem.tasks}
    if task_id not in tasks:
        raise ValueError(f"task={task_id!r} is invalid: not in the run's snapshot")
    task = tasks[task_id]
    nodes = {node.id: node for node in problem.nodes}
    chosen = nodes[assignment[task_id]]
    base = core.evaluate(problem, assignment)
    base_terms = _weighted(problem, base)
    mips, memory = _loads(problem, assignment)

    alternatives = []
    for node in problem.nodes:
        if node.id == chosen.id:
            continue
        reasons = _blocking_reasons(problem, task, node, mips, memory)
        if reasons:
            alternatives.append(Alternative(node.id, node.tier.value, reasons))
            continue
        moved = dict(assignment, **{task_id: node.id})
        terms = _weighted(problem, core.evaluate(problem, moved))
        delta = {name: terms[name] - base_terms[name] for name in TERMS}
        alternatives.append(
            Alternative(
                node.id,
                node.tier.value,
                delta=delta,
                objective_delta=sum(delta.values()),
            )
        )
    feasible = [alt for alt in alternatives if alt.feasible]
    runner_up = min(feasible, key=lambda alt: alt.objective_delta, default=None)
    alternatives.sort(
        key=lambda alt: (not alt.feasible, alt.objective_delta or 0.0, alt.node)
    )
    per_task = base.per_task[task_id]
    refs = references(problem)
    weights = problem.weights
    own = {
        "task_latency": weights.latency * per_task.urgency * per_task.latency_ms
        / refs.latency / weights.total,
        "task_cost": weights.cost * per_task.cost_per_hour / refs.cost / weights.total,
        "task_security": weights.security * per_task.exposure / refs.security
        / weights.total,
    }  # fmt: skip
    return Explanation(
        task=task,
        node=chosen,
        weights=problem.weights,
        terms={
            "latency_ms": per_task.latency_ms,
            "urgency": per_task.urgency,
            "cost_per_hour": per_task.cost_per_hour,
            "exposure": per_task.exposure,
            "migrated": per_task.migrated,
            **own,
            **{f"run_{name}": value for name, value in base_terms.items()},
        },
        binding=_binding(problem, task, chosen, mips, memory),
        alternatives=tuple(alternatives),
        runner_up=runner_up,
    )
