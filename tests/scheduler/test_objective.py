"""Objective terms and the independent feasibility checker, checked by hand."""

import pytest

from scheduler.core import check_feasibility, evaluate
from scheduler.core.compact import compact_from_problem


def test_evaluate_hand_checked_optima(tiny_case):
    problem, assignment, objective = tiny_case
    assert evaluate(problem, assignment).objective == pytest.approx(objective)


def test_evaluate_rules_problem_terms(rules_problem):
    problem, assignment, _ = rules_problem
    evaluation = evaluate(problem, assignment)
    raw = evaluation.per_task["t-raw"]
    assert raw.latency_ms == pytest.approx(15.0)
    assert raw.exposure == pytest.approx(0.25)
    assert evaluation.per_task["t-derived"].latency_ms == pytest.approx(10.0)
    assert evaluation.latency == pytest.approx(25 / 220)
    assert evaluation.security == pytest.approx(0.25)
    assert evaluation.unplaced == ()


def test_evaluate_counts_fixed_cost_once(fixed_cost_problem):
    problem, assignment, _ = fixed_cost_problem
    evaluation = evaluate(problem, assignment)
    assert evaluation.fixed_cost_per_hour == pytest.approx(4.0)
    assert evaluation.cost_per_hour == pytest.approx(7.0)


def test_migration_penalty_per_moved_task(capacity_problem):
    problem, assignment, objective = capacity_problem
    moved = type(problem)(
        problem.tasks,
        problem.nodes,
        problem.links,
        problem.weights,
        current={"t-small": "cloud-1", "t-large": "edge-1"},
        migration_penalty=0.05,
    )
    evaluation = evaluate(moved, assignment)
    assert evaluation.moves == 1
    assert evaluation.objective == pytest.approx(objective + 0.05)


def test_compact_objective_matches_evaluate(tiny_case):
    problem, assignment, _ = tiny_case
    compact = compact_from_problem(problem)
    index = {node_id: i for i, node_id in enumerate(compact.node_ids)}
    choice = [index[assignment[task_id]] for task_id in compact.task_ids]
    assert compact.objective(choice) == pytest.approx(
        evaluate(problem, assignment).objective
    )


def test_checker_accepts_hand_checked_optimum(tiny_case):
    problem, assignment, _ = tiny_case
    assert check_feasibility(problem, assignment) == []


def test_checker_names_security_and_deadline(rules_problem):
    problem, _, _ = rules_problem
    violations = check_feasibility(problem, {"t-raw": "edge-1", "t-derived": "cloud-1"})
    assert {(v.constraint, v.node, v.tasks) for v in violations} == {
        ("security", "edge-1", ("t-raw",))
    }
    violations = check_feasibility(problem, {"t-raw": "cloud-1", "t-derived": "edge-1"})
    assert [(v.constraint, v.node) for v in violations] == [("deadline", "cloud-1")]
    assert "110.00 ms" in violations[0].message


def test_checker_names_capacity_and_missing(capacity_problem):
    problem, _, _ = capacity_problem
    violations = check_feasibility(problem, {"t-small": "edge-1", "t-large": "edge-1"})
    assert len(violations) == 1
    assert violations[0].constraint == "capacity"
    assert violations[0].tasks == ("t-small", "t-large")
    violations = check_feasibility(problem, {"t-small": "fog-1"})
    assert [(v.constraint, v.tasks) for v in violations] == [("assigned", ("t-large",))]


def test_checker_names_unreachable_and_down(capacity_problem):
    problem, _, _ = capacity_problem
    nodes = list(problem.nodes)
    nodes[1] = type(nodes[1])(**{**nodes[1].__dict__, "is_up": False})
    links = tuple(link for link in problem.links if link.node != "cloud-1")
    changed = type(problem)(problem.tasks, tuple(nodes), links, problem.weights)
    violations = check_feasibility(changed, {"t-small": "fog-1", "t-large": "cloud-1"})
    assert {(v.constraint, v.tasks) for v in violations} == {
        ("node_up", ("t-small",)),
        ("reachable", ("t-large",)),
    }
