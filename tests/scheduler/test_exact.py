"""Exact solver: status reading, time limits, bound and LP file."""

import pytest

from scheduler.core import Status, read_gap_file, solve
from scheduler.core.exact import _cbc_bound, resolve_backend
from scheduler.core.gap import check_gap_feasibility
from scheduler.core.scenario import icu_scenario

from .conftest import GAP_DATA


@pytest.fixture(scope="module")
def d05100():
    return read_gap_file(GAP_DATA / "gapd.txt")[0]


@pytest.mark.parametrize("backend", ["cbc", "highs"])
def test_time_limited_hard_instance_not_proven(d05100, backend):
    """d05100 (optimum 6353) takes CBC and HiGHS far longer than 1 s."""
    result = solve(d05100, "exact", time_limit_s=1, backend=backend)
    assert result.status is Status.TIME_LIMIT
    assert result.status is not Status.OPTIMAL
    assert result.feasible
    assert check_gap_feasibility(d05100, result.assignment) == []
    assert result.objective >= 6353
    assert result.bound is not None
    assert result.bound <= 6353
    assert result.gap_pct > 0


@pytest.mark.parametrize("backend", ["cbc", "highs"])
def test_time_limit_before_any_solution_named(backend):
    """A limit shorter than presolve of the largest type D instance."""
    instance = read_gap_file(GAP_DATA / "gapd.txt")[-1]
    result = solve(instance, "exact", time_limit_s=0.001, backend=backend)
    assert result.status is Status.NOT_SOLVED
    assert result.reasons == ("solver stopped at its time limit without a solution",)
    assert result.assignment == {}


@pytest.mark.parametrize("backend", ["cbc", "highs"])
def test_backends_prove_same_optimum(backend, capacity_problem):
    problem, assignment, objective = capacity_problem
    result = solve(problem, "exact", backend=backend)
    assert result.status is Status.OPTIMAL
    assert result.assignment == assignment
    assert result.bound == pytest.approx(objective)


def test_writes_named_lp_file(tmp_path, fixed_cost_problem):
    problem, _, _ = fixed_cost_problem
    path = tmp_path / "ward.lp"
    solve(problem, "exact", lp_path=path)
    text = path.read_text()
    assert "assign_t_0:" in text
    assert "compute_fog_a:" in text
    assert "memory_fog_b:" in text
    assert "x_t_2_fog_b" in text
    assert "on_fog_a" in text


def test_bad_backend_rejected(capacity_problem):
    problem, _, _ = capacity_problem
    with pytest.raises(ValueError, match="backend='gurobi' is invalid"):
        solve(problem, "exact", backend="gurobi")


def test_cbc_bound_read_at_full_precision():
    log = (
        "Cbc0005I Partial search - best objective 0.1702416 "
        "(best possible 0.16887862), took 50916 iterations\n"
        "Objective value:                0.17024160\n"
        "Lower bound:                    0.169\n"
    )
    assert _cbc_bound(log) == 0.16887862
    assert _cbc_bound("Lower bound:   -12.5\n") == -12.5
    assert _cbc_bound("Result - Stopped on time limit\n") is None


def test_auto_backend_prefers_highs():
    assert resolve_backend("auto") == "highs"
    assert resolve_backend("cbc") == "cbc"
    with pytest.raises(ValueError, match="expected one of auto, cbc, highs"):
        resolve_backend("CBC")


def test_time_limited_ward_reports_bound_below_objective():
    """CBC leaves a 100-patient ward about 1 % open after 1 s, with a
    feasible plan from its first heuristics (found in about 0.2 s)."""
    problem = icu_scenario(100, seed=1)
    result = solve(problem, "exact", time_limit_s=1, backend="cbc")
    assert result.status is Status.TIME_LIMIT
    assert result.feasible
    assert result.bound < result.objective
    assert result.gap_pct == pytest.approx(
        100 * (result.objective - result.bound) / result.objective
    )
