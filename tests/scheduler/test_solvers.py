"""Contract tests run on every solver: same input, same Result type."""

import json

import pytest

from scheduler.core import (
    Link,
    Node,
    Problem,
    Status,
    Task,
    Weights,
    check_feasibility,
    solve,
)
from scheduler.core.gap import GapInstance, check_gap_feasibility


def test_finds_hand_checked_optimum(solver, tiny_case):
    problem, assignment, objective = tiny_case
    result = solve(problem, solver, time_limit_s=10, seed=1)
    assert result.solver == solver
    assert result.has_solution
    assert result.feasible
    assert result.assignment == assignment
    assert result.objective == pytest.approx(objective)


def test_result_is_feasible_by_checker(solver, tiny_case):
    problem, _, _ = tiny_case
    result = solve(problem, solver, time_limit_s=10, seed=1)
    assert check_feasibility(problem, result.assignment) == []
    assert result.violations == ()


def test_result_terms_and_json(solver, rules_problem):
    problem, _, _ = rules_problem
    result = solve(problem, solver, time_limit_s=10, seed=1)
    assert result.latency_term == pytest.approx(25 / 220)
    assert result.security_term == pytest.approx(0.25)
    assert result.cost_term == pytest.approx(0.0)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["status"] == result.status.value
    assert data["assignment"] == result.assignment
    assert result.wall_s >= 0


def test_exact_is_optimal_heuristics_feasible(solver, tiny_case):
    problem, _, _ = tiny_case
    result = solve(problem, solver, time_limit_s=10, seed=1)
    if solver == "exact":
        assert result.status is Status.OPTIMAL
        assert result.gap_pct == 0.0
    else:
        assert result.status is Status.FEASIBLE
        assert result.bound is None


def test_tiny_gap_both_senses(solver, tiny_gap, tiny_gap_optima):
    for sense in ("min", "max"):
        instance = type(tiny_gap)(**{**tiny_gap.__dict__, "sense": sense})
        value, agents = tiny_gap_optima[sense]
        result = solve(instance, solver, time_limit_s=10, seed=1)
        assert result.objective == value, sense
        assert tuple(result.assignment[f"job-{j}"] for j in range(3)) == agents
        assert check_gap_feasibility(instance, result.assignment) == []


def _single_node_problem(min_security=1, demands=(100.0,), mips=1000.0):
    tasks = tuple(
        Task(f"bed-03/ecg_sync-{k}", "bed-03", "ecg_sync", demand, 1.0, 0.5, 10.0,
             min_security=min_security)
        for k, demand in enumerate(demands)
    )  # fmt: skip
    nodes = (Node("fog-1", "fog", mips, 1000.0, 4),)
    links = (Link("fog-1", "bed-03", 5.0, 100.0),)
    return Problem(tasks, nodes, links, Weights(1, 1, 1))


def test_security_infeasible_names_task(solver):
    problem = _single_node_problem(min_security=5)
    result = solve(problem, solver, time_limit_s=5)
    assert result.status is Status.INFEASIBLE
    assert not result.feasible
    assert result.assignment == {}
    assert result.reasons == (
        "task bed-03/ecg_sync-0 (bed bed-03, ecg_sync) needs security >= 5 "
        "but no reachable node has it",
    )


def test_unreachable_and_compute_infeasible_named(solver):
    problem = _single_node_problem(demands=(2000.0,))
    result = solve(problem, solver, time_limit_s=5)
    assert result.status is Status.INFEASIBLE
    assert "needs 2000 MIPS" in result.reasons[0]
    tasks = (Task("t-1", "bed-04", "ecg_sync", 10.0, 1.0, 0.5, 10.0),)
    problem = Problem(tasks, problem.nodes, problem.links)
    result = solve(problem, solver, time_limit_s=5)
    assert result.status is Status.INFEASIBLE
    assert "no node that is up and reachable" in result.reasons[0]


def test_joint_capacity_infeasible_names_group(solver):
    problem = _single_node_problem(demands=(600.0, 600.0))
    result = solve(problem, solver, time_limit_s=5)
    assert not result.has_solution
    assert not result.feasible
    assert result.objective is None
    assert result.status is Status.INFEASIBLE
    assert result.reasons == (
        "tasks bed-03/ecg_sync-0, bed-03/ecg_sync-1 can only run on node fog-1, "
        "which has 1000 MIPS of compute, but need at least 1200 MIPS",
    )


def test_joint_capacity_conflict_over_two_nodes(solver):
    """Four 600 MIPS tasks may each use an edge device or a fog server of 1000
    MIPS: each fits alone, but together they need 2400 of the 2000 MIPS."""
    tasks = tuple(
        Task(f"t-{k}", "bed-1", "ecg_sync", 600.0, 1.0, 0.5, 10.0) for k in range(4)
    )
    nodes = (
        Node("edge-1", "edge", 1000.0, 1000.0, 2, bed="bed-1"),
        Node("fog-1", "fog", 1000.0, 1000.0, 4),
    )
    links = tuple(Link(node.id, "bed-1", 5.0, 100.0) for node in nodes)
    result = solve(Problem(tasks, nodes, links), solver, time_limit_s=5)
    assert result.status is Status.INFEASIBLE
    [reason] = result.reasons
    assert reason.startswith("tasks t-0, t-1, t-2, t-3 can only run on nodes")
    assert "edge-1, fog-1, which have 2000 MIPS of compute in all" in reason
    assert reason.endswith("need at least 2400 MIPS")


def test_gap_job_without_agent_named(solver):
    instance = GapInstance("tight", ((1, 2), (3, 4)), ((1, 9), (1, 9)), (5, 5))
    result = solve(instance, solver, time_limit_s=5)
    assert result.status is Status.INFEASIBLE
    assert result.reasons == (
        "job-1 fits no agent: its use exceeds every agent's capacity",
    )


def test_bad_solver_and_time_limit_rejected(capacity_problem):
    problem, _, _ = capacity_problem
    with pytest.raises(ValueError, match="solver='cplex' is invalid"):
        solve(problem, "cplex")
    with pytest.raises(ValueError, match="time_limit_s=0 is invalid"):
        solve(problem, "exact", time_limit_s=0)
    with pytest.raises(ValueError, match="problem=dict is invalid"):
        solve({}, "exact")
