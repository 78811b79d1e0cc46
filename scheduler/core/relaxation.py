"""LP relaxation of the internal form, used to seed the hybrid search.

The relaxation lets each task spread over its allowed nodes (0 <= x <= 1)
and leaves out the fixed costs. For the GAP at most one task per node and
resource is split in a basic optimal solution, so rounding it and repairing
gives a plan close to the optimum, a well-known start for GAP heuristics.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from .compact import Compact

logger = logging.getLogger(__name__)


def lp_relaxation(
    compact: Compact, time_limit_s: float | None = None
) -> list[dict[int, float]] | None:
    """Return the LP value of every allowed (task, node) pair, or None."""
    pairs = [(j, i) for j, options in enumerate(compact.cost) for i in options]
    if not pairs:
        return None
    costs = np.array([compact.cost[j][i] for j, i in pairs])
    rows, cols, data = [], [], []
    n_resources = len(compact.resources)
    for column, (j, i) in enumerate(pairs):
        for r, amount in enumerate(compact.use[j][i]):
            rows.append(i * n_resources + r)
            cols.append(column)
            data.append(amount)
    usage = coo_matrix(
        (data, (rows, cols)), shape=(compact.n_nodes * n_resources, len(pairs))
    ).tocsr()
    limits = np.array([amount for cap in compact.capacity for amount in cap])
    assign = coo_matrix(
        (np.ones(len(pairs)), ([j for j, _ in pairs], range(len(pairs)))),
        shape=(compact.n_tasks, len(pairs)),
    ).tocsr()
    options = {"time_limit": time_limit_s} if time_limit_s else {}
    solution = linprog(
        costs,
        A_ub=usage,
        b_ub=limits,
        A_eq=assign,
        b_eq=np.ones(compact.n_tasks),
        bounds=(0, 1),
        method="highs",
        options=options,
    )
    if solution.status != 0:
        logger.debug("LP relaxation not solved: %s", solution.message)
        return None
    values = [dict() for _ in range(compact.n_tasks)]
    for (j, i), value in zip(pairs, solution.x, strict=True):
        values[j][i] = float(value)
    return values
