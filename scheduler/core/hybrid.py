"""Hybrid solver: a learned policy seeds and steers a genetic search.

The population starts from the current placement (warm start), the greedy
plan, the rounded LP relaxation and plans sampled task by task from the
policy combined with each task's own costs and LP values. Half of the
children come from tournament selection, uniform crossover and
policy-guided mutation. The other half come from ruin and recreate, which
clears one node of a parent and a random tenth of the other tasks, and the
greedy rule re-places them. Each child is repaired to feasibility and improved by
single-task moves (a memetic, steady-state scheme in the manner of Chu and
Beasley's GA for the GAP). A child replaces the worst member unless it
duplicates one. The best plan is finished by shift and swap descent, and
the policy learns from the best plans (see ``policy.py``).

The search stops after a number of children in a row without a better plan
(the stall count), after ``max_generations`` children, or at its time
limit. The run is reproducible for a given seed unless the time limit cuts
it, because then it depends on the machine's speed.
"""

from __future__ import annotations

import logging
import math
import random
import time

from .compact import Compact
from .greedy import build_greedy, construct, descend
from .outcome import Outcome
from .policy import Policy
from .problem import Status
from .relaxation import lp_relaxation
from .search import State, insert_task, repair, repair_overload, shift_descent

logger = logging.getLogger(__name__)

# Genetic search settings inside the ranges public schedulers use
# (population 30 to 100, tournament 3, mutation 0.1 to 0.15).
POPULATION = 30
TOURNAMENT = 3
MUTATION_RATE = 0.1
ELITE_PLANS = 5
# Share of children made by ruin and recreate instead of crossover, and the
# share of tasks cleared besides those of the cleared node.
RUIN_RATE = 0.5
RUIN_SHARE = 0.1


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
    _check_count("population", population, minimum=2)
    _check_count("max_generations", max_generations, minimum=0)
    if stall_generations is not None:
        _check_count("stall_generations", stall_generations, minimum=1)
    if compact.unplaceable():
        return Outcome(Status.INFEASIBLE, None, message="tasks without any node")
    started = time.perf_counter()
    deadline = None if time_limit_s is None else started + time_limit_s
    rng = random.Random(seed)
    steering = policy if policy is not None else Policy()
    relaxed = lp_relaxation(compact, time_limit_s)
    sampler = _Sampler(compact, steering, relaxed)
    if stall_generations is None:
        # NOTE: on the larger type D GAP instances this count ends the search
        # after 7 to 24 s, 2 to 3 % above the best known values, with most of
        # a 60 s limit unused. Restarts that would use that time are not tried.
        stall_generations = max(500, 10 * compact.n_tasks)

    members, baseline = _initial_population(
        compact, sampler, rng, population, deadline, relaxed
    )
    if not members:
        return Outcome(
            Status.NOT_SOLVED, None, message="no feasible plan found by repair"
        )

    stall = 0
    children = 0
    stopped_by = "generation count"
    while children < max_generations:
        if stall >= stall_generations:
            stopped_by = "stall count"
            break
        if _past(deadline):
            stopped_by = "time limit"
            break
        children += 1
        child = _make_child(compact, members, sampler, rng)
        if child is None:
            stall += 1
            continue
        best_before = members[0][1]
        _insert_member(members, child, population)
        if child.objective < best_before - 1e-12:
            stall = 0
        else:
            stall += 1

    best_state = members[0][0]
    descend(best_state)
    members[0][1] = best_state.objective
    members.sort(key=lambda member: member[1])
    logger.debug(
        "hybrid: %s children, best %.6g, baseline %s, stopped by %s",
        children,
        best_state.objective,
        baseline,
        stopped_by,
    )
    if policy is not None:
        _learn(policy, compact, members, baseline)
    return Outcome(Status.FEASIBLE, list(best_state.choice), best_state.objective)


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"{name}={value!r} is invalid: expected an integer >= {minimum}"
        )


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
                for probability, value in zip(learned, values, strict=True)
            ]
            if relaxed is not None:
                # Nodes the LP relaxation uses are drawn far more often.
                appeal = [
                    weight * (0.05 + relaxed[j].get(i, 0.0))
                    for weight, i in zip(appeal, nodes, strict=True)
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
    """Return the sorted starting members and the greedy plan's objective.

    Members are [state, objective] lists: the rounded LP relaxation, the
    greedy plan, the current placement (warm start) and plans drawn from
    the sampler, each repaired to feasibility, without duplicates. The
    greedy objective (None if greedy found no feasible plan) is the
    baseline that rewards of the learned policy are measured against.
    """
    members = []
    if relaxed is not None:
        rounded = [max(values, key=values.get) for values in relaxed]
        state = _finish(State(compact, rounded))
        if state is not None:
            members.append(state)
    greedy = build_greedy(compact)
    baseline = greedy.objective if greedy.is_feasible() else None
    if baseline is not None:
        members.append(greedy)
    warm = _warm_start(compact)
    if warm is not None:
        members.append(warm)
    attempts = 0
    while len(members) < size and attempts < 3 * size and not _past(deadline):
        attempts += 1
        choice = [sampler.draw(rng, j) for j in range(compact.n_tasks)]
        state = _finish(State(compact, choice))
        if state is not None:
            members.append(state)
    unique = [[state, state.objective] for state in _unique(members)]
    unique.sort(key=lambda member: member[1])
    return unique[:size], baseline


def _warm_start(compact: Compact) -> State | None:
    """Return the current placement, completed and repaired, if there is one.

    Tasks keep their current node while it is allowed and has room; new
    tasks and displaced ones are inserted at their cheapest node.
    """
    if compact.current is None or all(i is None for i in compact.current):
        return None
    warm = State(compact)
    for j, i in enumerate(compact.current):
        if i is not None and i in compact.cost[j] and warm.fits(j, i):
            warm.place(j, i)
    for j in range(compact.n_tasks):
        if warm.choice[j] < 0:
            insert_task(warm, j)
    return _finish(warm)


def _unique(states):
    seen = set()
    for state in states:
        key = tuple(state.choice)
        if key not in seen:
            seen.add(key)
            yield state


def _tournament(members, rng):
    picks = rng.sample(range(len(members)), min(TOURNAMENT, len(members)))
    return members[min(picks, key=lambda k: members[k][1])][0]


def _make_child(compact, members, sampler, rng) -> State | None:
    if rng.random() < RUIN_RATE:
        state = _ruin_and_recreate(compact, _tournament(members, rng), rng)
    else:
        state = _crossover(compact, members, sampler, rng)
    if state is None:
        return None
    key = tuple(state.choice)
    if any(tuple(member[0].choice) == key for member in members):
        return None
    return state


def _ruin_and_recreate(compact, parent: State, rng) -> State | None:
    """Clear one node and a random share of other tasks, then re-place them.

    Re-placing a node's tasks together with others, by the greedy's regret
    rule, finds exchanges among several tasks that single moves and swaps
    cannot reach (a large neighbourhood search step).
    """
    state = State(compact, parent.choice)
    used = sorted({i for i in parent.choice})
    cleared = rng.choice(used)
    for j, node in enumerate(parent.choice):
        if node == cleared or rng.random() < RUIN_SHARE:
            state.remove(j)
    construct(compact, state=state)
    return _finish(state)


def _crossover(compact, members, sampler, rng) -> State | None:
    first = _tournament(members, rng).choice
    second = _tournament(members, rng).choice
    choice = [
        a if rng.random() < 0.5 else b for a, b in zip(first, second, strict=True)
    ]
    for j in range(compact.n_tasks):
        if rng.random() < MUTATION_RATE:
            choice[j] = sampler.draw(rng, j)
    # Mutate at least one task so a child of identical parents is new.
    j = rng.randrange(compact.n_tasks)
    choice[j] = sampler.draw(rng, j)
    return _finish(State(compact, choice))


def _insert_member(members, child: State, size: int) -> None:
    worst = max(range(len(members)), key=lambda k: members[k][1])
    if len(members) < size:
        members.append([child, child.objective])
    elif child.objective < members[worst][1]:
        members[worst] = [child, child.objective]
    else:
        return
    members.sort(key=lambda member: member[1])


def _learn(policy: Policy, compact: Compact, members, baseline) -> None:
    """Update ``policy`` from the elite plans, rewarded by their gain on greedy."""
    task_groups = compact.task_groups or ["task"] * compact.n_tasks
    node_groups = compact.node_groups or compact.node_ids
    if baseline is None:
        baseline = members[-1][1]
    scale = abs(baseline) or 1.0
    plans = []
    for state, objective in members[:ELITE_PLANS]:
        reward = (baseline - objective) / scale
        plans.append((task_groups, [node_groups[i] for i in state.choice], reward))
    policy.update(plans, node_groups=sorted(set(node_groups)))
