"""The result type every solver returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .feasibility import Violation
from .objective import Evaluation
from .problem import Status


@dataclass
class Result:
    """Outcome of one solve, the same for every solver and problem type.

    ``objective`` is the placement objective (see ``objective.py``) or, for a
    GAP instance, the instance's total cost or profit in its own sense. The
    three ``*_term`` fields are the normalised placement terms before
    weighting, None for GAP. ``feasible`` comes from the independent checker,
    not from the solver. ``bound`` is the best proven bound on the objective
    and ``gap_pct`` the optimality gap ``|objective - bound| / |objective|``
    in percent, both from the exact solver only. ``reasons`` name the tasks
    and constraints behind an infeasible status.
    """

    solver: str
    status: Status
    assignment: dict[str, str]
    objective: float | None
    feasible: bool
    wall_s: float
    latency_term: float | None = None
    cost_term: float | None = None
    security_term: float | None = None
    migration_term: float | None = None
    bound: float | None = None
    gap_pct: float | None = None
    reasons: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()
    evaluation: Evaluation | None = field(default=None, repr=False)

    @property
    def has_solution(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable summary without the per-task evaluation."""
        data = asdict(self)
        data.pop("evaluation")
        data["status"] = self.status.value
        data["reasons"] = list(self.reasons)
        data["violations"] = [asdict(v) for v in self.violations]
        return data


def optimality_gap_pct(objective: float | None, bound: float | None) -> float | None:
    """Return ``|objective - bound| / |objective|`` in percent, if both exist."""
    if objective is None or bound is None:
        return None
    difference = abs(objective - bound)
    if difference <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return 100 * difference / max(abs(objective), 1e-12)
