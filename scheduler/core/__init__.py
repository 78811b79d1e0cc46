"""Placement scheduler core: problem model, objective, solvers, GAP, scenarios.

Imports nothing from Django, so it can be tested and benchmarked alone.
"""

from .feasibility import Violation, check_feasibility, diagnose_tasks
from .gap import GapInstance, check_gap_feasibility, gap_value, read_gap_file
from .objective import Evaluation, TaskTerms, evaluate
from .problem import (
    MAX_SECURITY_LEVEL,
    MIN_SECURITY_LEVEL,
    PROFILE_LABELS,
    PROFILES,
    Link,
    Node,
    Problem,
    Status,
    Task,
    TaskKind,
    Tier,
    Weights,
)
from .result import Result
from .solve import SOLVERS, solve

__all__ = [
    "MAX_SECURITY_LEVEL",
    "MIN_SECURITY_LEVEL",
    "PROFILES",
    "PROFILE_LABELS",
    "SOLVERS",
    "Evaluation",
    "GapInstance",
    "Link",
    "Node",
    "Problem",
    "Result",
    "Status",
    "Task",
    "TaskKind",
    "TaskTerms",
    "Tier",
    "Violation",
    "Weights",
    "check_feasibility",
    "check_gap_feasibility",
    "diagnose_tasks",
    "evaluate",
    "gap_value",
    "read_gap_file",
    "solve",
]
