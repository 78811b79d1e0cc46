"""Placement problem data: tasks, nodes, links, weights and the problem itself.

Every dataclass is frozen and checks itself on construction, raising
``ValueError`` that names the field, the value and what is allowed, so a
problem that exists is a problem the solvers can read.

Units: compute demand in MI (million instructions) per run, run rate in runs
per second, so a task's sustained demand is ``mi_per_run * runs_per_s`` MIPS;
data in KB per run; memory in MB; latency in ms; bandwidth in Mbit/s; cost
rates in cost units per hour (see ``Node``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

MIN_SECURITY_LEVEL = 1
MAX_SECURITY_LEVEL = 5


class Tier(enum.StrEnum):
    EDGE = "edge"
    FOG = "fog"
    CLOUD = "cloud"


class TaskKind(enum.StrEnum):
    ECG_SYNC = "ecg_sync"
    ANOMALY_DETECTION = "anomaly_detection"
    RISK_INFERENCE = "risk_inference"
    MODEL_UPDATE = "model_update"


class Status(enum.StrEnum):
    """Outcome of a solve.

    ``TIME_LIMIT`` means a feasible assignment was found but the time limit
    stopped the search before optimality was proven.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    NOT_SOLVED = "not_solved"
    ERROR = "error"


def _invalid(owner: str, name: str, value, allowed: str) -> ValueError:
    return ValueError(f"{owner}.{name}={value!r} is invalid: expected {allowed}")


def _check_id(owner: str, name: str, value) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(owner, name, value, "a non-empty string")


def _check_number(
    owner: str, name: str, value, *, minimum: float = 0.0, strict: bool = False
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(owner, name, value, "a number")
    if not math.isfinite(value):
        raise _invalid(owner, name, value, "a finite number")
    if strict and value <= minimum:
        raise _invalid(owner, name, value, f"a number > {minimum:g}")
    if not strict and value < minimum:
        raise _invalid(owner, name, value, f"a number >= {minimum:g}")


def _check_security(owner: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(owner, name, value, "an integer")
    if not MIN_SECURITY_LEVEL <= value <= MAX_SECURITY_LEVEL:
        raise _invalid(
            owner,
            name,
            value,
            f"an integer from {MIN_SECURITY_LEVEL} to {MAX_SECURITY_LEVEL}",
        )


def _coerce_enum(owner: str, name: str, value, enum_type: type[enum.Enum]):
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise _invalid(owner, name, value, f"one of {allowed}") from None


@dataclass(frozen=True)
class Task:
    """A periodic computing task of one patient's digital twin.

    ``urgency`` (>= 1) multiplies the task's latency in the objective and is
    raised when the patient's risk rises. ``sensitivity`` (0 to 1) weights
    the security exposure of the node that runs it: 1 for identifiable raw
    records, lower for derived or pseudonymised data.
    """

    id: str
    bed: str
    kind: TaskKind
    mi_per_run: float
    runs_per_s: float
    input_kb: float
    memory_mb: float
    deadline_ms: float | None = None
    urgency: float = 1.0
    min_security: int = MIN_SECURITY_LEVEL
    sensitivity: float = 0.5

    def __post_init__(self) -> None:
        _check_id("Task", "id", self.id)
        _check_id("Task", "bed", self.bed)
        object.__setattr__(
            self, "kind", _coerce_enum("Task", "kind", self.kind, TaskKind)
        )
        _check_number("Task", "mi_per_run", self.mi_per_run, strict=True)
        _check_number("Task", "runs_per_s", self.runs_per_s, strict=True)
        _check_number("Task", "input_kb", self.input_kb)
        _check_number("Task", "memory_mb", self.memory_mb)
        if self.deadline_ms is not None:
            _check_number("Task", "deadline_ms", self.deadline_ms, strict=True)
        _check_number("Task", "urgency", self.urgency, minimum=1.0)
        _check_security("Task", "min_security", self.min_security)
        _check_number("Task", "sensitivity", self.sensitivity)
        if self.sensitivity > 1:
            raise _invalid("Task", "sensitivity", self.sensitivity, "0 to 1")

    @property
    def demand_mips(self) -> float:
        """Sustained compute demand: MI per run times runs per second."""
        return self.mi_per_run * self.runs_per_s


@dataclass(frozen=True)
class Node:
    """A node that can run tasks: a bedside edge device, a fog server or a cloud.

    Costs are in cost units per hour: ``cost_per_mips_hour`` per MIPS of
    sustained demand placed on the node, ``cost_per_gb`` per GB of task input
    sent to it, and ``fixed_cost_per_hour`` once any task runs on it. Edge
    devices name the ``bed`` they are attached to and serve only that bed.
    """

    id: str
    tier: Tier
    mips: float
    memory_mb: float
    security_level: int
    cost_per_mips_hour: float = 0.0
    cost_per_gb: float = 0.0
    fixed_cost_per_hour: float = 0.0
    is_up: bool = True
    bed: str | None = None
    ward: str | None = None

    def __post_init__(self) -> None:
        _check_id("Node", "id", self.id)
        object.__setattr__(self, "tier", _coerce_enum("Node", "tier", self.tier, Tier))
        _check_number("Node", "mips", self.mips, strict=True)
        _check_number("Node", "memory_mb", self.memory_mb, strict=True)
        _check_security("Node", "security_level", self.security_level)
        _check_number("Node", "cost_per_mips_hour", self.cost_per_mips_hour)
        _check_number("Node", "cost_per_gb", self.cost_per_gb)
        _check_number("Node", "fixed_cost_per_hour", self.fixed_cost_per_hour)
        if not isinstance(self.is_up, bool):
            raise _invalid("Node", "is_up", self.is_up, "True or False")
        if self.tier is Tier.EDGE and self.bed is None:
            raise _invalid("Node", "bed", self.bed, "the bed id of an edge device")
        if self.bed is not None:
            _check_id("Node", "bed", self.bed)
        if self.ward is not None:
            _check_id("Node", "ward", self.ward)


@dataclass(frozen=True)
class Link:
    """Network path between a node and a bed: one-way latency and bandwidth."""

    node: str
    bed: str
    latency_ms: float
    bandwidth_mbps: float

    def __post_init__(self) -> None:
        _check_id("Link", "node", self.node)
        _check_id("Link", "bed", self.bed)
        _check_number("Link", "latency_ms", self.latency_ms)
        _check_number("Link", "bandwidth_mbps", self.bandwidth_mbps, strict=True)


@dataclass(frozen=True)
class Weights:
    """Relative weights of the latency, cost and security terms."""

    latency: float
    cost: float
    security: float

    def __post_init__(self) -> None:
        for name in ("latency", "cost", "security"):
            _check_number("Weights", name, getattr(self, name))
        if self.latency + self.cost + self.security <= 0:
            raise _invalid(
                "Weights", "latency+cost+security", 0, "at least one weight > 0"
            )

    @property
    def total(self) -> float:
        return self.latency + self.cost + self.security


PROFILES: dict[str, Weights] = {
    "latency": Weights(latency=0.6, cost=0.2, security=0.2),
    "security": Weights(latency=0.2, cost=0.2, security=0.6),
    "balanced": Weights(latency=1 / 3, cost=1 / 3, security=1 / 3),
}
PROFILE_LABELS = {
    "latency": "latency-first",
    "security": "security-first",
    "balanced": "balanced",
}


@dataclass(frozen=True)
class Problem:
    """A placement problem: which node runs each task.

    ``current`` is the placement in force (task id to node id), if any.
    Moving a task away from its current node adds ``migration_penalty`` to
    the objective (in objective units, per moved task), so a re-plan keeps
    the current placement unless a move gains more than that.
    """

    tasks: tuple[Task, ...]
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    weights: Weights = field(default_factory=lambda: PROFILES["balanced"])
    current: Mapping[str, str] | None = None
    migration_penalty: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "links", tuple(self.links))
        self._check_members()
        _check_number("Problem", "migration_penalty", self.migration_penalty)
        if self.current is not None:
            object.__setattr__(self, "current", dict(self.current))
            self._check_current()

    def _check_members(self) -> None:
        for name, items, kind in (
            ("tasks", self.tasks, Task),
            ("nodes", self.nodes, Node),
            ("links", self.links, Link),
        ):
            for item in items:
                if not isinstance(item, kind):
                    raise _invalid("Problem", name, item, f"{kind.__name__} items")
        if not self.tasks:
            raise _invalid("Problem", "tasks", (), "at least one task")
        if not self.nodes:
            raise _invalid("Problem", "nodes", (), "at least one node")
        if not isinstance(self.weights, Weights):
            raise _invalid("Problem", "weights", self.weights, "a Weights")
        _check_unique("tasks", [task.id for task in self.tasks])
        _check_unique("nodes", [node.id for node in self.nodes])
        node_ids = {node.id for node in self.nodes}
        pairs = set()
        for link in self.links:
            if link.node not in node_ids:
                raise _invalid("Problem", "links.node", link.node, "a known node id")
            if (link.node, link.bed) in pairs:
                raise _invalid(
                    "Problem", "links", (link.node, link.bed), "one link per pair"
                )
            pairs.add((link.node, link.bed))

    def _check_current(self) -> None:
        task_ids = {task.id for task in self.tasks}
        node_ids = {node.id for node in self.nodes}
        for task_id, node_id in self.current.items():
            # A current placement may mention tasks that ended since; only
            # unknown nodes for known tasks are errors.
            if task_id in task_ids and node_id not in node_ids:
                raise _invalid(
                    "Problem", f"current[{task_id!r}]", node_id, "a known node id"
                )

    def link(self, node_id: str, bed: str) -> Link | None:
        return self.link_index.get((node_id, bed))

    @property
    def link_index(self) -> dict[tuple[str, str], Link]:
        index = self.__dict__.get("_link_index")
        if index is None:
            index = {(link.node, link.bed): link for link in self.links}
            object.__setattr__(self, "_link_index", index)
        return index


def _check_unique(name: str, ids: list[str]) -> None:
    seen = set()
    for item_id in ids:
        if item_id in seen:
            raise _invalid("Problem", name, item_id, "unique ids")
        seen.add(item_id)
