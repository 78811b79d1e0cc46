"""Hybrid solver: a learned policy seeds and steers a genetic search.

The population starts from the current placement (warm start), the greedy
plan and plans sampled task by task from the policy combined with each
task's own costs. Children come from tournament selection, uniform
crossover and policy-guided mutation; each child is repaired to
feasibility and improved by single-task moves (a memetic, steady-state
scheme in the manner of Chu and Beasley's GA for the GAP). A child replaces
the worst member unless it duplicates one. At the end, the policy learns
from the best plans (see ``policy.py``).

The run is reproducible for a given seed as long as it ends by its
generation or stall count; a run cut by ``time_limit_s`` depends on speed.
"""

from __future__ import annotations

import logging
import math
import random
import time

from .compact import Compact
from .greedy import build_greedy
from .outcome import Outcome
from .policy import Policy
from .problem import Status
from .relaxation import lp_relaxation
from .search import (
    State,
    insert_task,
    repair,
    repair_overload,
    shift_descent,
    swap_descent,
)

logger = logging.getLogger(__name__)

# Genetic search settings inside the ranges public schedulers use
# (population 30 to 100, tournament 3, mutation 0.1 to 0.15).
POPULATION = 30
TOURNAMENT = 3
MUTATION_RATE = 0.1
ELITE_PLANS = 5


def solve_hybrid(
    compact: Compact,
    time_limit_s: float | None = 2.0,
    *,
    seed: int = 0,
    policy: Policy | None = None,
    population: int = POPULATION,
    max_generations: int = 20000,
    stall_generations: int | None = None,
) -> Outcome:
    """Run the policy-guided genetic search; learn into ``policy`` if given.

    A generation here is one child. ``stall_generations`` stops the search
    after that many children without a better plan; None picks
    ``max(500, 10 * tasks)``.
    """
    if compact.unplaceable():
        return Outcome(Status.INFEASIBLE, None, message="tasks without any node")
    started = time.perf_counter()
    deadline = None if time_limit_s is None else started + time_limit_s
    rng = random.Random(seed)
    steering = policy if policy is not None else Policy()
    relaxed = lp_relaxation(compact, time_limit_s)
    sampler = _Sampler(compact, steering, relaxed)
    if stall_generations is None:
        stall_generations = max(500, 10 * compact.n_tasks)

    members = _initial_population(compact, sampler, rng, population, deadline, relaxed)
    if not members:
        return Outcome(
            Status.NOT_SOLVED, None, message="no feasible plan found by repair"
        )
    greedy_objective = members[0][1] if members else None

    stall = 0
    generation = 0
    for generation in range(1, max_generations + 1):
        if stall >= stall_generations or _past(deadline):
            break
        child = _make_child(compact, members, sampler, rng)
        if child is None:
            stall += 1
            continue
        best_before = members[0][1]
        _insert_member(members, child)
        if child.objective < best_before - 1e-12:
            stall = 0
        else:
            stall += 1

    best_state = members[0][0]
    swap_descent(best_state)
    shift_descent(best_state)
    members.sort(key=lambda member: member[0].objective)
    hit_time_limit = _past(deadline) and stall < stall_generations
    logger.debug(
        "hybrid: %s children, best %.6g, greedy %.6g, stopped by %s",
        generation,
        best_state.objective,
        greedy_objective,
        "time limit" if hit_time_limit else "stall or generation count",
    )
    if policy is not None:
        _learn(policy, compact, members, greedy_objective)
    return Outcome(Status.FEASIBLE, list(best_state.choice), best_state.objective)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


class _Sampler:
    """Draws a node for a task from policy preferences times cost appeal."""

    def __init__(self, compact: Compact, policy: Policy, relaxed=None) -> None:
        self.options = []
        self.weights = []
        task_groups = compact.task_groups or ["task"] * compact.n_tasks
        node_groups = compact.node_groups or compact.node_ids
        for j, costs in enumerate(compact.cost):
            nodes = sorted(costs)
            values = [costs[i] for i in nodes]
            spread = (max(values) - min(values)) or 1.0
            learned = policy.probabilities(
                task_groups[j], [node_groups[i] for i in nodes]
            )
            appeal = [
                probability * math.exp(-3.0 * (value - min(values)) / spread)
                for probability, value in zip(learned, values)
            ]
            if relaxed is not None:
                # Nodes the LP relaxation uses are drawn far more often.
                appeal = [
                    weight * (0.05 + relaxed[j].get(i, 0.0))
                    for weight, i in zip(appeal, nodes)
                ]
            self.options.append(nodes)
            self.weights.append(appeal)

    def draw(self, rng: random.Random, j: int) -> int:
        return rng.choices(self.options[j], weights=self.weights[j])[0]


def _finish(state: State) -> State | None:
    repair(state)
    if not state.is_feasible():
        repair_overload(state)
    if not state.is_feasible():
        return None
    shift_descent(state)
    return state


def _initial_population(compact, sampler, rng, size, deadline, relaxed):
    members = []
    if relaxed is not None:
        rounded = [max(values, key=values.get) for values in relaxed]
        state = _finish(State(compact, rounded))
        if state is not None:
            members.append((state, tuple(state.choice)))
    greedy = build_greedy(compact)
    if greedy.is_feasible():
        members.append((greedy, tuple(greedy.choice)))
    if compact.current is not None:
        warm = State(compact)
        for j, i in enumerate(compact.current):
            if i is not None and i in compact.cost[j] and warm.fits(j, i):
                warm.place(j, i)
        for j in range(compact.n_tasks):
            if warm.choice[j] < 0:
                insert_task(warm, j)
        warm = _finish(warm)
        if warm is not None:
            members.append((warm, tuple(warm.choice)))
    attempts = 0
    while len(members) < size and attempts < 3 * size and not _past(deadline):
        attempts += 1
        choice = [sampler.draw(rng, j) for j in range(compact.n_tasks)]
        state = _finish(State(compact, choice))
        if state is not None:
            members.append((state, tuple(state.choice)))
    members = [(state, state.objective) for state, _ in _unique(members)]
    members.sort(key=lambda member: member[1])
    return [[state, objective] for state, objective in members]


def _unique(members):
    seen = set()
    for state, key in members:
        if key not in seen:
            seen.add(key)
            yield state, key


def _tournament(members, rng):
    picks = rng.sample(range(len(members)), min(TOURNAMENT, len(members)))
    return members[min(picks, key=lambda k: members[k][1])][0]


def _make_child(compact, members, sampler, rng) -> State | None:
    first = _tournament(members, rng).choice
    second = _tournament(members, rng).choice
    choice = [a if rng.random() < 0.5 else b for a, b in zip(first, second)]
    for j in range(compact.n_tasks):
        if rng.random() < MUTATION_RATE:
            choice[j] = sampler.draw(rng, j)
    # Mutate at least one task so a child of identical parents is new.
    j = rng.randrange(compact.n_tasks)
    choice[j] = sampler.draw(rng, j)
    state = _finish(State(compact, choice))
    if state is None:
        return None
    key = tuple(state.choice)
    if any(tuple(member[0].choice) == key for member in members):
        return None
    return state


def _insert_member(members, child: State) -> None:
    worst = max(range(len(members)), key=lambda k: members[k][1])
    if len(members) < POPULATION:
        members.append([child, child.objective])
    elif child.objective < members[worst][1]:
        members[worst] = [child, child.objective]
    else:
        return
    members.sort(key=lambda member: member[1])


def _learn(policy: Policy, compact: Compact, members, greedy_objective) -> None:
    task_groups = compact.task_groups or ["task"] * compact.n_tasks
    node_groups = compact.node_groups or compact.node_ids
    scale = abs(greedy_objective) if greedy_objective else 1.0
    plans = []
    for state, objective in members[:ELITE_PLANS]:
        reward = (greedy_objective - objective) / scale
        plans.append((task_groups, [node_groups[i] for i in state.choice], reward))
    policy.update(plans)
