"""Generalized Assignment Problem (GAP) instances: reading, checking, converting.

Two file layouts are read, both as one stream of whitespace-separated
integers (line breaks carry no meaning):

- OR-Library: ``P``, then ``P`` instances;
- one instance: the instance alone.

An instance is ``m n``, then the cost matrix ``c`` (``m`` rows of ``n``),
the resource use matrix ``a`` (same order) and the ``m`` capacities ``b``.
Job ``j`` on agent ``i`` costs (or earns) ``c[i][j]`` and uses ``a[i][j]``
of ``b[i]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .compact import Compact
from .feasibility import Violation

SENSES = ("min", "max")


@dataclass(frozen=True)
class GapInstance:
    """One GAP instance; ``sense`` states whether ``cost`` is minimised or maximised."""

    name: str
    cost: tuple[tuple[int, ...], ...]
    use: tuple[tuple[int, ...], ...]
    capacity: tuple[int, ...]
    sense: str = "min"

    def __post_init__(self) -> None:
        if self.sense not in SENSES:
            raise ValueError(
                f"GapInstance.sense={self.sense!r} is invalid: expected min or max"
            )
        m = len(self.capacity)
        if m == 0:
            raise ValueError("GapInstance.capacity=() is invalid: expected m >= 1")
        for field_name in ("cost", "use"):
            matrix = getattr(self, field_name)
            if len(matrix) != m or len({len(row) for row in matrix}) != 1:
                raise ValueError(
                    f"GapInstance.{field_name} has rows of lengths "
                    f"{[len(row) for row in matrix]}: expected {m} rows of equal "
                    "length"
                )
        if len(self.cost[0]) != len(self.use[0]) or not self.cost[0]:
            raise ValueError(
                f"GapInstance.cost has {len(self.cost[0])} jobs and use has "
                f"{len(self.use[0])}: expected the same number, at least 1"
            )

    @property
    def agents(self) -> int:
        return len(self.capacity)

    @property
    def jobs(self) -> int:
        return len(self.cost[0])

    def job_id(self, j: int) -> str:
        return f"job-{j}"

    def agent_id(self, i: int) -> str:
        return f"agent-{i}"


class _Tokens:
    """Integer tokens of a file with their line numbers, for error messages."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.items = [
            (token, line_number)
            for line_number, line in enumerate(text.splitlines(), start=1)
            for token in line.split()
        ]
        self.position = 0

    def remaining(self) -> int:
        return len(self.items) - self.position

    def take(self, what: str, *, minimum: int | None = 0) -> int:
        if self.position >= len(self.items):
            raise ValueError(
                f"{self.path}: file ends after {len(self.items)} tokens "
                f"but {what} is missing"
            )
        token, line_number = self.items[self.position]
        self.position += 1
        place = f"{self.path}: line {line_number}, token {self.position}"
        if not re.fullmatch(r"[+-]?\d+", token):
            raise ValueError(f"{place}: {what}={token!r} is not an integer")
        value = int(token)
        if minimum is not None and value < minimum:
            raise ValueError(
                f"{place}: {what}={value} is invalid: expected >= {minimum}"
            )
        return value


def read_gap_file(path: str | Path, sense: str = "min") -> list[GapInstance]:
    """Read every instance of a GAP file in either layout."""
    path = Path(path)
    if sense not in SENSES:
        raise ValueError(f"sense={sense!r} is invalid: expected min or max")
    tokens = _Tokens(path, path.read_text())
    if tokens.remaining() == 0:
        raise ValueError(f"{path}: file is empty, expected a GAP instance")
    if _is_single_instance(tokens):
        count = 1
    else:
        count = tokens.take("instance count P", minimum=1)
    instances = [
        _read_instance(tokens, _instance_name(path, k, count), sense)
        for k in range(1, count + 1)
    ]
    if tokens.remaining():
        token, line_number = tokens.items[tokens.position]
        raise ValueError(
            f"{path}: line {line_number}, token {tokens.position + 1}: "
            f"unexpected {token!r} after {count} instance(s)"
        )
    return instances


def _is_single_instance(tokens: _Tokens) -> bool:
    """Tell the two layouts apart by which one the token count fits exactly.

    When neither fits, the file is broken; a first line holding one number
    marks the OR-Library layout, so errors then point at the right token.
    """
    values = [_integer(token) for token, _ in tokens.items]
    if _library_layout_fits(values):
        return False
    if len(values) >= 2 and None not in values[:2]:
        m, n = values[0], values[1]
        if m > 0 and n > 0 and len(values) == 2 + 2 * m * n + m:
            return True
    first_line = tokens.items[0][1]
    return sum(1 for _, line in tokens.items if line == first_line) != 1


def _integer(token: str) -> int | None:
    return int(token) if re.fullmatch(r"[+-]?\d+", token) else None


def _library_layout_fits(values: list[int | None]) -> bool:
    count = values[0]
    if count is None or count < 1:
        return False
    position = 1
    for _ in range(count):
        if position + 1 >= len(values):
            return False
        m, n = values[position], values[position + 1]
        if m is None or n is None or m < 0 or n < 0:
            return False
        position += 2 + 2 * m * n + m
    return position == len(values)


def _instance_name(path: Path, k: int, count: int) -> str:
    return path.stem if count == 1 else f"{path.stem}-{k}"


def _read_instance(tokens: _Tokens, name: str, sense: str) -> GapInstance:
    m = tokens.take(f"{name} agent count m", minimum=1)
    n = tokens.take(f"{name} job count n", minimum=1)
    matrices = []
    # Costs may be negative (a profit read as a cost); resource use and
    # capacities may not.
    for label, minimum in (("c", None), ("a", 0)):
        matrices.append(
            tuple(
                tuple(
                    tokens.take(f"{name} {label}[{i}][{j}]", minimum=minimum)
                    for j in range(n)
                )
                for i in range(m)
            )
        )
    capacity = tuple(tokens.take(f"{name} b[{i}]", minimum=0) for i in range(m))
    if name.startswith(("gapa-", "gapb-", "gapc-", "gapd-")):
        # The literature names the type A to D instances by type and size.
        name = f"{name[3]}{m:02d}{n}"
    return GapInstance(name, matrices[0], matrices[1], capacity, sense)


def gap_value(instance: GapInstance, assignment: Mapping[str, str]) -> float:
    """Return the total cost (or profit) of a complete assignment."""
    agents = {instance.agent_id(i): i for i in range(instance.agents)}
    return sum(
        instance.cost[agents[assignment[instance.job_id(j)]]][j]
        for j in range(instance.jobs)
    )


def check_gap_feasibility(
    instance: GapInstance, assignment: Mapping[str, str]
) -> list[Violation]:
    """Return the jobs without an agent and the agents over capacity."""
    agents = {instance.agent_id(i): i for i in range(instance.agents)}
    violations = []
    load = [0] * instance.agents
    jobs_on = [[] for _ in range(instance.agents)]
    for j in range(instance.jobs):
        job = instance.job_id(j)
        agent = assignment.get(job)
        if agent not in agents:
            violations.append(
                Violation("assigned", agent, (job,), f"{job} has no known agent")
            )
            continue
        load[agents[agent]] += instance.use[agents[agent]][j]
        jobs_on[agents[agent]].append(job)
    for i in range(instance.agents):
        if load[i] > instance.capacity[i]:
            violations.append(
                Violation(
                    "capacity",
                    instance.agent_id(i),
                    tuple(jobs_on[i]),
                    f"{instance.agent_id(i)} uses {load[i]} of capacity "
                    f"{instance.capacity[i]}",
                )
            )
    return violations


def compact_from_gap(instance: GapInstance) -> Compact:
    sign = 1 if instance.sense == "min" else -1
    costs, uses = [], []
    for j in range(instance.jobs):
        allowed = [
            i
            for i in range(instance.agents)
            if instance.use[i][j] <= instance.capacity[i]
        ]
        costs.append({i: sign * instance.cost[i][j] for i in allowed})
        uses.append({i: (instance.use[i][j],) for i in allowed})
    return Compact(
        name=instance.name,
        task_ids=[instance.job_id(j) for j in range(instance.jobs)],
        node_ids=[instance.agent_id(i) for i in range(instance.agents)],
        resources=("capacity",),
        cost=costs,
        use=uses,
        capacity=[(b,) for b in instance.capacity],
        fixed=[0.0] * instance.agents,
        sign=sign,
        task_groups=["job"] * instance.jobs,
        node_groups=[instance.agent_id(i) for i in range(instance.agents)],
    )
