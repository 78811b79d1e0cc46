"""Objective of the placement problem and its evaluation.

For task t on node n, reached over the link (n, bed of t):

- latency_ms(t, n) = link latency + transfer + processing
  = latency_ms + 8 * input_kb / bandwidth_mbps + 1000 * mi_per_run / mips
  (KB and Mbit/s in powers of 1000; queueing is not modelled because the
  capacity constraint keeps every node's utilisation at or below 1);
- cost(t, n) = demand_mips * cost_per_mips_hour
  + input_kb * runs_per_s * 3600 / 1e6 * cost_per_gb, in cost units per
  hour, plus fixed_cost_per_hour once for every node that runs any task;
- exposure(t, n) = sensitivity * (5 - security_level) / (5 - 1), between 0
  (node at the top level) and the task's sensitivity.

The three raw terms are L = sum of urgency * latency_ms, C = sum of costs and
S = sum of exposures. Each is divided by a reference that depends on the
problem only, never on the assignment:

- L_ref = sum over tasks of urgency * the largest latency_ms over the nodes
  that are up and reachable from the task's bed;
- C_ref = sum over tasks of the largest cost over those nodes, plus the
  fixed costs of all nodes that are up;
- S_ref = sum of sensitivities (every task on a level-1 node).

So each normalised term lies between 0 and 1, where 1 is the worst placement
of every task for that term alone. A reference of 0 is replaced by 1. The
objective is

    (w_L * L / L_ref + w_C * C / C_ref + w_S * S / S_ref) / (w_L + w_C + w_S)
    + migration_penalty * (number of tasks moved off their current node),

so a weight says which share of the objective a term gets, and an objective
of 0.1 means the ward sits at a tenth of its worst-case range on average.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .problem import MAX_SECURITY_LEVEL, MIN_SECURITY_LEVEL, Node, Problem, Task

KB_PER_GB = 1e6
SECONDS_PER_HOUR = 3600


def latency_ms(task: Task, node: Node, latency: float, bandwidth_mbps: float):
    transfer_ms = 8 * task.input_kb / bandwidth_mbps
    processing_ms = 1000 * task.mi_per_run / node.mips
    return latency + transfer_ms + processing_ms


def cost_per_hour(task: Task, node: Node) -> float:
    compute = task.demand_mips * node.cost_per_mips_hour
    gb_per_hour = task.input_kb * task.runs_per_s * SECONDS_PER_HOUR / KB_PER_GB
    return compute + gb_per_hour * node.cost_per_gb


def exposure(task: Task, node: Node) -> float:
    shortfall = MAX_SECURITY_LEVEL - node.security_level
    return task.sensitivity * shortfall / (MAX_SECURITY_LEVEL - MIN_SECURITY_LEVEL)


@dataclass(frozen=True)
class References:
    """Normalisation references L_ref, C_ref and S_ref of the objective."""

    latency: float
    cost: float
    security: float


def references(problem: Problem) -> References:
    latency_ref = cost_ref = security_ref = 0.0
    for task in problem.tasks:
        latencies = []
        costs = []
        for node in problem.nodes:
            link = problem.link(node.id, task.bed)
            if node.is_up and link is not None:
                latencies.append(
                    latency_ms(task, node, link.latency_ms, link.bandwidth_mbps)
                )
                costs.append(cost_per_hour(task, node))
        latency_ref += task.urgency * max(latencies, default=0.0)
        cost_ref += max(costs, default=0.0)
        security_ref += task.sensitivity
    cost_ref += sum(node.fixed_cost_per_hour for node in problem.nodes if node.is_up)
    return References(
        latency=latency_ref or 1.0, cost=cost_ref or 1.0, security=security_ref or 1.0
    )


@dataclass(frozen=True)
class TaskTerms:
    """One task's placement and its contribution to each raw term."""

    task: str
    node: str
    latency_ms: float
    urgency: float
    cost_per_hour: float
    exposure: float
    migrated: bool


@dataclass(frozen=True)
class Evaluation:
    """Objective of an assignment, its normalised terms and the raw figures.

    ``latency``, ``cost`` and ``security`` are the normalised terms (0 to 1)
    before weighting; ``objective`` is the weighted total as defined in the
    module docstring. Tasks without a node, or on a node they cannot reach,
    are listed in ``unplaced`` and left out of the sums.
    """

    objective: float
    latency: float
    cost: float
    security: float
    migration: float
    urgency_latency_ms: float
    cost_per_hour: float
    fixed_cost_per_hour: float
    exposure: float
    moves: int
    per_task: dict[str, TaskTerms]
    unplaced: tuple[str, ...]


def evaluate(problem: Problem, assignment: Mapping[str, str]) -> Evaluation:
    """Evaluate ``assignment`` (task id to node id) on ``problem``."""
    nodes = {node.id: node for node in problem.nodes}
    refs = references(problem)
    per_task = {}
    unplaced = []
    used_nodes = set()
    for task in problem.tasks:
        node = nodes.get(assignment.get(task.id))
        link = problem.link(node.id, task.bed) if node is not None else None
        if link is None:
            unplaced.append(task.id)
            continue
        used_nodes.add(node.id)
        current = (problem.current or {}).get(task.id)
        per_task[task.id] = TaskTerms(
            task=task.id,
            node=node.id,
            latency_ms=latency_ms(task, node, link.latency_ms, link.bandwidth_mbps),
            urgency=task.urgency,
            cost_per_hour=cost_per_hour(task, node),
            exposure=exposure(task, node),
            migrated=current is not None and current != node.id,
        )

    terms = per_task.values()
    urgency_latency = sum(term.urgency * term.latency_ms for term in terms)
    fixed = sum(nodes[node_id].fixed_cost_per_hour for node_id in used_nodes)
    cost = sum(term.cost_per_hour for term in terms) + fixed
    exposure_total = sum(term.exposure for term in terms)
    moves = sum(term.migrated for term in terms)

    weights = problem.weights
    latency_term = urgency_latency / refs.latency
    cost_term = cost / refs.cost
    security_term = exposure_total / refs.security
    migration_term = problem.migration_penalty * moves
    weighted = (
        weights.latency * latency_term
        + weights.cost * cost_term
        + weights.security * security_term
    ) / weights.total
    return Evaluation(
        objective=weighted + migration_term,
        latency=latency_term,
        cost=cost_term,
        security=security_term,
        migration=migration_term,
        urgency_latency_ms=urgency_latency,
        cost_per_hour=cost,
        fixed_cost_per_hour=fixed,
        exposure=exposure_total,
        moves=moves,
        per_task=per_task,
        unplaced=tuple(unplaced),
    )
