"""Hybrid solver: seeding, warm start, learning and the policy's JSON form."""

import json
import random

import pytest

from scheduler.core import Problem, solve
from scheduler.core.compact import compact_from_problem
from scheduler.core.hybrid import _initial_population, _Sampler
from scheduler.core.policy import Policy
from scheduler.core.scenario import icu_scenario

# Short searches, ended by their stall count long before the time limit, so
# the runs are reproducible however busy the machine is.
SEARCH = dict(time_limit_s=60, stall_generations=60)


@pytest.fixture(scope="module")
def ward():
    return icu_scenario(6, seed=4, weights="latency")


def test_same_seed_same_plan(ward):
    first = solve(ward, "hybrid", seed=7, **SEARCH)
    second = solve(ward, "hybrid", seed=7, **SEARCH)
    assert first.feasible
    assert first.assignment == second.assignment
    assert first.objective == second.objective


def test_same_seed_same_learned_policy(ward):
    policies = [Policy(), Policy()]
    for policy in policies:
        solve(ward, "hybrid", seed=3, policy=policy, **SEARCH)
    assert policies[0].to_dict() == policies[1].to_dict()
    assert policies[0].updates == 1


def test_policy_learns_used_tiers(ward):
    policy = Policy()
    result = None
    for seed in range(3):
        result = solve(ward, "hybrid", seed=seed, policy=policy, **SEARCH)
    assert policy.updates == 3
    tiers = {node.id: node.tier.value for node in ward.nodes}
    kinds = {task.id: task.kind.value for task in ward.tasks}
    ecg_tiers = [
        tiers[node] for task, node in result.assignment.items()
        if kinds[task] == "ecg_sync"
    ]  # fmt: skip
    favourite = max(set(ecg_tiers), key=ecg_tiers.count)
    groups = ["edge", "fog", "cloud"]
    learned = policy.probabilities("ecg_sync", groups)
    probabilities = dict(zip(groups, learned, strict=True))
    assert probabilities[favourite] == max(probabilities.values())
    assert probabilities[favourite] > 1 / len(groups)


def test_policy_json_round_trip_gives_same_run(ward):
    policy = Policy()
    solve(ward, "hybrid", seed=1, policy=policy, **SEARCH)
    restored = Policy.from_dict(json.loads(json.dumps(policy.to_dict())))
    assert restored == policy
    original_run = solve(ward, "hybrid", seed=2, policy=policy, **SEARCH)
    restored_run = solve(ward, "hybrid", seed=2, policy=restored, **SEARCH)
    assert original_run.assignment == restored_run.assignment
    assert policy.to_dict() == restored.to_dict()


def test_warm_start_is_in_population(ward):
    result = solve(ward, "exact", time_limit_s=30)
    # Move one task off its optimal node so the warm plan differs from the
    # greedy and LP plans, and check it still enters the population.
    current = dict(result.assignment)
    task = ward.tasks[0]
    current[task.id] = next(
        node.id for node in ward.nodes
        if node.id != current[task.id] and node.tier.value == "cloud"
    )  # fmt: skip
    warm = Problem(ward.tasks, ward.nodes, ward.links, ward.weights, current=current)
    compact = compact_from_problem(warm)
    index = {node_id: i for i, node_id in enumerate(compact.node_ids)}
    expected = [index[current[task_id]] for task_id in compact.task_ids]
    sampler = _Sampler(compact, Policy())
    members, baseline = _initial_population(
        compact, sampler, random.Random(0), 30, None, None
    )
    assert baseline is not None
    choices = [state.choice for state, _ in members]
    assert expected in choices or any(
        sum(a != b for a, b in zip(choice, expected, strict=True)) <= 1
        for choice in choices
    )


def test_warm_start_kept_under_migration_penalty(ward):
    """A large penalty per move makes the current placement the optimum."""
    greedy = solve(ward, "greedy")
    current = greedy.assignment
    penalised = Problem(
        ward.tasks, ward.nodes, ward.links, ward.weights,
        current=current, migration_penalty=1.0,
    )  # fmt: skip
    result = solve(penalised, "hybrid", seed=0, **SEARCH)
    assert result.assignment == current
    assert result.evaluation.moves == 0


@pytest.mark.parametrize(
    ("option", "value"),
    [("population", 1), ("max_generations", -1), ("stall_generations", 0),
     ("population", 2.5)],
)  # fmt: skip
def test_hybrid_rejects_bad_search_option(ward, option, value):
    with pytest.raises(ValueError, match=rf"{option}={value!r} is invalid"):
        solve(ward, "hybrid", **{option: value})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], r"Policy data=\[\] is invalid: expected a dict"),
        ({"version": 2}, r"Policy.version=2 is invalid: expected 1"),
        ({"version": 1, "preferences": []}, r"Policy.preferences=\[\] is invalid"),
        ({"version": 1, "preferences": {"ecg_sync": {"fog": "high"}}},
         r"Policy.preferences\['ecg_sync'\]\['fog'\]='high' is invalid"),
        ({"version": 1, "preferences": {"ecg_sync": {"fog": True}}},
         r"\['fog'\]=True is invalid"),
        ({"version": 1, "preferences": {"ecg_sync": 1}},
         r"Policy.preferences\['ecg_sync'\]=1 is invalid"),
        ({"version": 1, "reward_baseline": None},
         r"Policy.reward_baseline=None is invalid"),
        ({"version": 1, "updates": -1}, r"Policy.updates=-1 is invalid"),
        ({"version": 1, "updates": "3"}, r"Policy.updates='3' is invalid"),
        ({"version": 1, "learning_rate": 0}, r"Policy.learning_rate=0 is invalid"),
    ],
)  # fmt: skip
def test_policy_from_dict_rejects_bad_data(data, expected):
    with pytest.raises(ValueError, match=expected):
        Policy.from_dict(data)
