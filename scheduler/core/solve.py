"""One entry point for all solvers and both problem types."""

from __future__ import annotations

import logging
import time

from .compact import Compact, compact_from_problem
from .conflicts import capacity_conflicts
from .exact import solve_exact
from .feasibility import check_feasibility, diagnose_tasks
from .gap import GapInstance, check_gap_feasibility, compact_from_gap, gap_value
from .greedy import solve_greedy
from .objective import evaluate
from .outcome import Outcome
from .problem import Problem, Status
from .result import Result, optimality_gap_pct

logger = logging.getLogger(__name__)

SOLVERS = ("exact", "greedy", "hybrid")


def solve(
    problem: Problem | GapInstance,
    solver: str = "exact",
    time_limit_s: float | None = 10.0,
    seed: int = 0,
    policy=None,
    **options,
) -> Result:
    """Solve a placement problem or a GAP instance with the named solver.

    ``policy`` is the hybrid solver's learned ``Policy``; it is updated in
    place with this run's reward. Further ``options`` go to the solver:
    ``backend`` ("auto", "cbc" or "highs"), ``threads`` and ``lp_path`` for
    exact; ``population``, ``max_generations`` and ``stall_generations`` for
    hybrid.

    A problem without a solution gets status infeasible, whichever solver
    ran, when a task fits no node on its own or a group of tasks overfills
    the nodes it may use, because either proves it. ``reasons`` then name
    the tasks and the constraint. Otherwise a heuristic that finds no
    feasible plan reports not_solved.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver={solver!r} is invalid: expected one of {SOLVERS}")
    if time_limit_s is not None and time_limit_s <= 0:
        raise ValueError(f"time_limit_s={time_limit_s!r} is invalid: expected > 0")
    if isinstance(problem, Problem):
        compact = compact_from_problem(problem)
    elif isinstance(problem, GapInstance):
        compact = compact_from_gap(problem)
    else:
        raise ValueError(
            f"problem={type(problem).__name__} is invalid: "
            "expected a Problem or a GapInstance"
        )

    logger.info(
        "solve start: solver=%s instance=%s tasks=%s nodes=%s time_limit_s=%s",
        solver,
        compact.name,
        compact.n_tasks,
        compact.n_nodes,
        time_limit_s,
    )
    started = time.perf_counter()
    outcome = _run(compact, solver, time_limit_s, seed, policy, options)
    wall_s = time.perf_counter() - started
    result = _to_result(problem, compact, solver, outcome, wall_s)

    if result.status is Status.TIME_LIMIT:
        logger.warning(
            "solve hit the time limit: solver=%s instance=%s time_limit_s=%s "
            "objective=%s gap_pct=%s",
            solver,
            compact.name,
            time_limit_s,
            result.objective,
            result.gap_pct,
        )
    logger.info(
        "solve end: solver=%s instance=%s status=%s objective=%s gap_pct=%s "
        "wall_s=%.3f",
        solver,
        compact.name,
        result.status.value,
        result.objective,
        result.gap_pct,
        wall_s,
    )
    return result


def _run(compact: Compact, solver, time_limit_s, seed, policy, options) -> Outcome:
    if solver == "exact":
        return solve_exact(compact, time_limit_s, **options)
    if solver == "greedy":
        return solve_greedy(compact, time_limit_s, **options)
    from .hybrid import solve_hybrid

    return solve_hybrid(compact, time_limit_s, seed=seed, policy=policy, **options)


def _explain(problem, compact: Compact, outcome: Outcome):
    """Return the status and reasons of an outcome without a solution."""
    if isinstance(problem, Problem):
        single = diagnose_tasks(problem)
    else:
        single = [
            f"{compact.task_ids[j]} fits no agent: its use exceeds every "
            "agent's capacity"
            for j in compact.unplaceable()
        ]
    conflicts = single or capacity_conflicts(compact)
    if conflicts:
        return Status.INFEASIBLE, tuple(conflicts)
    if outcome.status is Status.INFEASIBLE:
        return Status.INFEASIBLE, (
            f"{outcome.message}; no single task or group of tasks sharing "
            "the same nodes explains it",
        )
    return outcome.status, (outcome.message,) if outcome.message else ()


def _to_result(problem, compact: Compact, solver, outcome: Outcome, wall_s) -> Result:
    reasons = (outcome.message,) if outcome.message else ()
    if outcome.choice is None:
        status, reasons = _explain(problem, compact, outcome)
        return Result(
            solver=solver,
            status=status,
            assignment={},
            objective=None,
            feasible=False,
            wall_s=wall_s,
            bound=_value(compact, outcome.bound),
            reasons=reasons,
        )

    assignment = {
        compact.task_ids[j]: compact.node_ids[i] for j, i in enumerate(outcome.choice)
    }
    bound = _value(compact, outcome.bound)
    if isinstance(problem, GapInstance):
        violations = check_gap_feasibility(problem, assignment)
        objective = float(gap_value(problem, assignment))
        terms, evaluation = (None, None, None, None), None
    else:
        violations = check_feasibility(problem, assignment)
        evaluation = evaluate(problem, assignment)
        objective = evaluation.objective
        terms = (
            evaluation.latency,
            evaluation.cost,
            evaluation.security,
            evaluation.migration,
        )
    if violations:
        logger.error(
            "solver %s returned an assignment with %s violations, first: %s",
            solver,
            len(violations),
            violations[0].message,
        )
    return Result(
        solver=solver,
        status=outcome.status,
        assignment=assignment,
        objective=objective,
        feasible=not violations,
        wall_s=wall_s,
        latency_term=terms[0],
        cost_term=terms[1],
        security_term=terms[2],
        migration_term=terms[3],
        bound=bound,
        gap_pct=optimality_gap_pct(objective, bound),
        reasons=reasons,
        violations=tuple(violations),
        evaluation=evaluation,
    )


def _value(compact: Compact, internal: float | None) -> float | None:
    return None if internal is None else compact.sign * internal
