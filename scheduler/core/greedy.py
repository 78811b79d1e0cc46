"""Greedy solver: urgency order, cheapest feasible node, repair, shift descent.

Tasks are placed one at a time. The next task is the most urgent unplaced
one; among equally urgent tasks it is the one with the largest regret, the
gap between its best and second-best node that still has room, because that
task loses most if it waits (the MTHG rule of Martello and Toth for the
GAP). A task goes to the node with the smallest marginal objective (its cost
plus the node's fixed cost if the node is still off) among the nodes with
room. When no node has room, one already placed task is moved elsewhere to
make room; remaining overloads are repaired by shifting and swapping tasks.
A final pass of single-task moves improves the result.

On tight instances the cost rule can paint itself into a corner, so a
second pass ranks nodes by relative resource use instead and the better
feasible result of the two is kept.
"""

from __future__ import annotations

from .compact import Compact
from .outcome import Outcome
from .problem import Status
from .search import State, insert_task, repair, repair_overload, shift_descent


def _cost_rule(state: State, j: int, i: int) -> float:
    return state.place_cost(j, i)


def _use_rule(state: State, j: int, i: int) -> float:
    use = state.compact.use[j][i]
    capacity = state.compact.capacity[i]
    return sum(amount / max(cap, 1e-12) for amount, cap in zip(use, capacity))


def construct(compact: Compact, rule=_cost_rule) -> State:
    """Place every task by urgency and regret under ``rule`` (lower is better)."""
    urgency = compact.urgency or [1.0] * compact.n_tasks
    state = State(compact)
    unplaced = set(range(compact.n_tasks))
    while unplaced:
        best_key, best_task, best_node = None, -1, -1
        for j in unplaced:
            scores = sorted(
                (rule(state, j, i), i) for i in compact.cost[j] if state.fits(j, i)
            )
            if not scores:
                regret = float("inf")
                node = -1
            else:
                node = scores[0][1]
                regret = scores[1][0] - scores[0][0] if len(scores) > 1 else 1e18
            key = (urgency[j], regret, -j)
            if best_key is None or key > best_key:
                best_key, best_task, best_node = key, j, node
        unplaced.discard(best_task)
        if best_node >= 0:
            state.place(best_task, best_node)
        else:
            insert_task(state, best_task)
    return state


def build_greedy(compact: Compact, improve: bool = True) -> State:
    best = None
    for rule in (_cost_rule, _use_rule):
        state = construct(compact, rule)
        repair(state)
        if not state.is_feasible():
            repair_overload(state)
        if improve and state.is_feasible():
            shift_descent(state)
        if state.is_feasible() and (best is None or state.objective < best.objective):
            best = state
        if best is not None:
            break
    return best if best is not None else state


def solve_greedy(compact: Compact, time_limit_s: float | None = None) -> Outcome:
    """Build one greedy assignment; ``time_limit_s`` is accepted and ignored."""
    if compact.unplaceable():
        return Outcome(Status.INFEASIBLE, None, message="tasks without any node")
    state = build_greedy(compact)
    if not state.is_feasible():
        return Outcome(
            Status.NOT_SOLVED,
            None,
            message="greedy placement and repair left nodes over capacity",
        )
    return Outcome(Status.FEASIBLE, list(state.choice), state.objective)
