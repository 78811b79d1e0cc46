"""Capacity conflicts: groups of tasks that cannot fit on the nodes they may use.

Take a node set S and the tasks whose allowed nodes all lie in S. If, for
some resource, the least each of them can use on S adds up to more than the
capacity of S, they cannot all be placed (Hall's condition, per resource). Finding
such a group proves the problem infeasible, whichever solver runs, and names
the tasks and the constraint. The sets S tried are each task's own allowed
set and, while there are few distinct sets, the unions of two of them, so
some infeasible problems have no conflict found here.
"""

from __future__ import annotations

from itertools import combinations

from .compact import Compact

# Pairwise unions are tried only below this many distinct node sets, which
# keeps the check quadratic in a small number (a ward has a handful of sets).
MAX_SETS_FOR_UNIONS = 60
# Names listed in a message before the rest are only counted.
MAX_NAMES = 5
UNITS = {"compute": "MIPS", "memory": "MB", "capacity": "units"}


def capacity_conflicts(compact: Compact) -> list[str]:
    """Return a message for each node set that its tasks provably overfill."""
    allowed = [frozenset(options) for options in compact.cost]
    node_sets = sorted(set(allowed) - {frozenset()}, key=sorted)
    candidates = list(node_sets)
    if len(node_sets) <= MAX_SETS_FOR_UNIONS:
        candidates += [a | b for a, b in combinations(node_sets, 2)]

    messages = []
    reported = set()
    for nodes in candidates:
        tasks = [j for j, options in enumerate(allowed) if options and options <= nodes]
        for r, resource in enumerate(compact.resources):
            need = sum(min(compact.use[j][i][r] for i in allowed[j]) for j in tasks)
            have = sum(compact.capacity[i][r] for i in nodes)
            if need <= have * (1 + 1e-9) or (nodes, r) in reported:
                continue
            reported.add((nodes, r))
            messages.append(_message(compact, tasks, nodes, resource, need, have))
    return messages


def _message(compact, tasks, nodes, resource, need, have) -> str:
    unit = UNITS.get(resource, "units")
    task_names = _names([compact.task_ids[j] for j in tasks])
    node_names = _names(sorted(compact.node_ids[i] for i in nodes))
    if len(tasks) == 1:
        subject = f"task {task_names} can only run on"
    else:
        subject = f"tasks {task_names} can only run on"
    if len(nodes) == 1:
        where = f"node {node_names}, which has {have:g} {unit} of {resource}"
    else:
        where = f"nodes {node_names}, which have {have:g} {unit} of {resource} in all"
    return f"{subject} {where}, but need at least {need:g} {unit}"


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMES])
    if len(items) > MAX_NAMES:
        shown += f" and {len(items) - MAX_NAMES} more"
    return shown
