"""Independent feasibility check and per-task infeasibility diagnosis.

``check_feasibility`` re-derives every constraint from the problem data and
deliberately shares no code with the solvers' constraint building
(``compact.py``), so a bug there shows up as a violation here instead of
hiding in both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from .problem import Problem, Task

# Relative slack on capacity sums, for solver values rounded in the last bits.
CAPACITY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Violation:
    """A broken constraint: its name, the node and the tasks involved."""

    constraint: str
    node: str | None
    tasks: tuple[str, ...]
    message: str


def check_feasibility(
    problem: Problem, assignment: Mapping[str, str]
) -> list[Violation]:
    """Return every constraint that ``assignment`` breaks (empty if feasible)."""
    nodes = {node.id: node for node in problem.nodes}
    links = {(link.node, link.bed): link for link in problem.links}
    violations = []
    compute_mips = defaultdict(float)
    memory_mb = defaultdict(float)
    placed = defaultdict(list)

    for task in problem.tasks:
        node_id = assignment.get(task.id)
        node = nodes.get(node_id)
        if node is None:
            violations.append(
                Violation(
                    "assigned",
                    node_id,
                    (task.id,),
                    f"task {task.id} has no known node (got {node_id!r})",
                )
            )
            continue
        compute_mips[node.id] += task.mi_per_run * task.runs_per_s
        memory_mb[node.id] += task.memory_mb
        placed[node.id].append(task.id)

        def broken(constraint: str, message: str, node_id=node.id, task_id=task.id):
            violations.append(Violation(constraint, node_id, (task_id,), message))

        if not node.is_up:
            broken("node_up", f"task {task.id} is on node {node.id}, which is down")
        link = links.get((node.id, task.bed))
        if link is None:
            broken(
                "reachable",
                f"task {task.id} is on node {node.id}, "
                f"which cannot reach bed {task.bed}",
            )
        if node.security_level < task.min_security:
            broken(
                "security",
                f"task {task.id} needs security >= {task.min_security} "
                f"but node {node.id} has {node.security_level}",
            )
        if link is not None and task.deadline_ms is not None:
            total_ms = (
                link.latency_ms
                + task.input_kb * 8 / link.bandwidth_mbps
                + task.mi_per_run * 1000 / node.mips
            )
            if total_ms > task.deadline_ms * (1 + CAPACITY_TOLERANCE):
                broken(
                    "deadline",
                    f"task {task.id} takes {total_ms:.2f} ms on node {node.id}, "
                    f"over its deadline of {task.deadline_ms:g} ms",
                )

    for node_id, tasks in placed.items():
        node = nodes[node_id]
        for constraint, used, limit, unit in (
            ("capacity", compute_mips[node_id], node.mips, "MIPS"),
            ("memory", memory_mb[node_id], node.memory_mb, "MB"),
        ):
            if used > limit * (1 + CAPACITY_TOLERANCE):
                violations.append(
                    Violation(
                        constraint,
                        node_id,
                        tuple(tasks),
                        f"node {node_id} is given {used:.1f} {unit} "
                        f"but has {limit:g} {unit}",
                    )
                )
    return violations


def diagnose_tasks(problem: Problem) -> list[str]:
    """Name each task that no node can run on its own, and the reason.

    Candidate nodes are narrowed one constraint at a time, and the
    constraint that leaves none is reported. Infeasibility that only arises
    from several tasks competing for capacity is not found here.
    """
    messages = []
    for task in problem.tasks:
        message = _diagnose_task(problem, task)
        if message is not None:
            messages.append(message)
    return messages


def _diagnose_task(problem: Problem, task: Task) -> str | None:
    links = {(link.node, link.bed): link for link in problem.links}
    label = f"task {task.id} (bed {task.bed}, {task.kind.value})"
    candidates = [
        node for node in problem.nodes if node.is_up and (node.id, task.bed) in links
    ]
    if not candidates:
        return f"{label} has no node that is up and reachable from its bed"
    candidates = [n for n in candidates if n.security_level >= task.min_security]
    if not candidates:
        return (
            f"{label} needs security >= {task.min_security} "
            "but no reachable node has it"
        )
    candidates = [n for n in candidates if n.memory_mb >= task.memory_mb]
    if not candidates:
        return (
            f"{label} needs {task.memory_mb:g} MB of memory "
            "but no reachable node with its security level has that much"
        )
    demand = task.mi_per_run * task.runs_per_s
    candidates = [n for n in candidates if n.mips >= demand]
    if not candidates:
        return (
            f"{label} needs {demand:g} MIPS but no reachable node with its "
            "security level and memory has that much"
        )
    if task.deadline_ms is None:
        return None
    best_ms = min(
        links[(n.id, task.bed)].latency_ms
        + task.input_kb * 8 / links[(n.id, task.bed)].bandwidth_mbps
        + task.mi_per_run * 1000 / n.mips
        for n in candidates
    )
    if best_ms > task.deadline_ms:
        return (
            f"{label} has a deadline of {task.deadline_ms:g} ms but the fastest "
            f"node that can run it takes {best_ms:.2f} ms"
        )
    return None
