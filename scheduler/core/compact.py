"""Internal form shared by the three solvers.

A placement problem and a GAP instance both become a ``Compact``: tasks,
nodes, the nodes each task may use with the cost of that choice, each
choice's use of every node resource, node capacities and fixed costs. Costs
are always minimised, so a maximisation instance is stored with its costs
negated (``sign`` = -1) and its value is ``sign * objective``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .objective import cost_per_hour, exposure, latency_ms, references
from .problem import Problem


@dataclass
class Compact:
    """Minimisation form: choose one allowed node per task.

    ``cost[j]`` and ``use[j]`` map each node index allowed for task ``j`` to
    the cost of that choice and its use of each resource in ``resources``;
    ``capacity[i]`` is node ``i``'s amount of each resource and ``fixed[i]``
    the cost paid once if node ``i`` runs any task.
    """

    name: str
    task_ids: list[str]
    node_ids: list[str]
    resources: tuple[str, ...]
    cost: list[dict[int, float]]
    use: list[dict[int, tuple[float, ...]]]
    capacity: list[tuple[float, ...]]
    fixed: list[float]
    sign: int = 1
    urgency: list[float] | None = None
    task_groups: list[str] | None = None
    node_groups: list[str] | None = None
    current: list[int | None] | None = None

    @property
    def n_tasks(self) -> int:
        return len(self.task_ids)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    def unplaceable(self) -> list[int]:
        return [j for j, options in enumerate(self.cost) if not options]

    def objective(self, choice: list[int]) -> float:
        total = sum(self.cost[j][i] for j, i in enumerate(choice))
        return total + sum(self.fixed[i] for i in set(choice))

    def loads(self, choice: list[int]) -> list[list[float]]:
        loads = [[0.0] * len(self.resources) for _ in self.node_ids]
        for j, i in enumerate(choice):
            for r, amount in enumerate(self.use[j][i]):
                loads[i][r] += amount
        return loads

    def overload(self, choice: list[int]) -> float:
        """Sum of capacity excess over all nodes and resources, relative."""
        excess = 0.0
        for i, load in enumerate(self.loads(choice)):
            for r, amount in enumerate(load):
                limit = self.capacity[i][r]
                if amount > limit:
                    excess += (amount - limit) / max(limit, 1e-12)
        return excess


def compact_from_problem(problem: Problem) -> Compact:
    """Build the solvers' form of a placement problem.

    A pair (task, node) is allowed when the node is up, reachable from the
    task's bed, secure enough, has the task's memory and compute on its own
    and meets the task's deadline.
    """
    refs = references(problem)
    weights = problem.weights
    scale_latency = weights.latency / refs.latency / weights.total
    scale_cost = weights.cost / refs.cost / weights.total
    scale_security = weights.security / refs.security / weights.total
    node_index = {node.id: i for i, node in enumerate(problem.nodes)}
    current = problem.current or {}

    costs, uses = [], []
    for task in problem.tasks:
        options, use = {}, {}
        for i, node in enumerate(problem.nodes):
            link = problem.link(node.id, task.bed)
            if link is None or not node.is_up:
                continue
            if node.security_level < task.min_security:
                continue
            if task.memory_mb > node.memory_mb or task.demand_mips > node.mips:
                continue
            delay = latency_ms(task, node, link.latency_ms, link.bandwidth_mbps)
            if task.deadline_ms is not None and delay > task.deadline_ms:
                continue
            value = (
                scale_latency * task.urgency * delay
                + scale_cost * cost_per_hour(task, node)
                + scale_security * exposure(task, node)
            )
            if task.id in current and current[task.id] != node.id:
                value += problem.migration_penalty
            options[i] = value
            use[i] = (task.demand_mips, task.memory_mb)
        costs.append(options)
        uses.append(use)

    return Compact(
        name="placement",
        task_ids=[task.id for task in problem.tasks],
        node_ids=[node.id for node in problem.nodes],
        resources=("compute", "memory"),
        cost=costs,
        use=uses,
        capacity=[(node.mips, node.memory_mb) for node in problem.nodes],
        fixed=[scale_cost * node.fixed_cost_per_hour for node in problem.nodes],
        urgency=[task.urgency for task in problem.tasks],
        task_groups=[task.kind.value for task in problem.tasks],
        node_groups=[node.tier.value for node in problem.nodes],
        current=[node_index.get(current.get(task.id)) for task in problem.tasks],
    )
