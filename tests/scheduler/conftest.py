"""Tiny placement and GAP instances with hand-checked optima, and the solver
parametrisation that runs the same contract tests on every solver."""

from pathlib import Path

import pytest

from scheduler.core import Link, Node, Problem, Task, Weights
from scheduler.core.gap import GapInstance

GAP_DATA = Path(__file__).resolve().parent.parent / "data" / "gap"
SOLVER_NAMES = ("exact", "greedy", "hybrid")


@pytest.fixture(params=SOLVER_NAMES)
def solver(request):
    return request.param


def _task(task_id, mi_per_run, **fields):
    values = dict(
        bed="bed-1",
        kind="ecg_sync",
        runs_per_s=1.0,
        input_kb=0.0,
        memory_mb=10.0,
        sensitivity=0.0,
    )
    values.update(fields)
    return Task(id=task_id, mi_per_run=mi_per_run, **values)


@pytest.fixture(scope="session")
def capacity_problem():
    """Cost only; the free edge device fits one of the two tasks.

    Costs per hour: t-small 100 MIPS, t-large 200 MIPS, fog 0.01 and cloud
    0.02 per MIPS-hour, edge free. C_ref = 100 * 0.02 + 200 * 0.02 = 6.
    Best: t-large on the edge, t-small on fog, cost 1, objective 1/6.
    (t-small on the edge costs 2; both on fog cost 3.)
    """
    tasks = (_task("t-small", 100.0), _task("t-large", 200.0))
    nodes = (
        Node("edge-1", "edge", mips=250.0, memory_mb=1000.0, security_level=2,
             bed="bed-1"),
        Node("fog-1", "fog", mips=1000.0, memory_mb=1000.0, security_level=4,
             cost_per_mips_hour=0.01),
        Node("cloud-1", "cloud", mips=5000.0, memory_mb=1000.0,
             security_level=5, cost_per_mips_hour=0.02),
    )  # fmt: skip
    links = tuple(Link(node.id, "bed-1", 1.0, 100.0) for node in nodes)
    problem = Problem(tasks, nodes, links, Weights(latency=0, cost=1, security=0))
    return problem, {"t-small": "fog-1", "t-large": "edge-1"}, 1 / 6


@pytest.fixture(scope="session")
def rules_problem():
    """Latency and security weighted 1:1; deadline and security rules bind.

    Every node runs 1000 MIPS and every task is 10 MI with no input, so
    processing is 10 ms and latency is link + 10 ms: edge 10, fog 15,
    cloud 110. t-raw needs security >= 4 (edge is 2) and a 50 ms deadline
    (cloud is 110), so it must go to fog; t-derived (sensitivity 0) is
    fastest on the edge. L_ref = 110 + 110 = 220 and S_ref = 1, so the
    objective is (25 / 220 + 1 * (5 - 4) / 4) / 2 = 2 / 11.
    """
    tasks = (
        _task("t-raw", 10.0, deadline_ms=50.0, min_security=4, sensitivity=1.0),
        _task("t-derived", 10.0, kind="risk_inference"),
    )
    nodes = (
        Node("edge-1", "edge", 1000.0, 1000.0, 2, bed="bed-1"),
        Node("fog-1", "fog", 1000.0, 1000.0, 4),
        Node("cloud-1", "cloud", 1000.0, 1000.0, 5),
    )
    links = (
        Link("edge-1", "bed-1", 0.0, 100.0),
        Link("fog-1", "bed-1", 5.0, 100.0),
        Link("cloud-1", "bed-1", 100.0, 100.0),
    )
    problem = Problem(tasks, nodes, links, Weights(latency=1, cost=0, security=1))
    return problem, {"t-raw": "fog-1", "t-derived": "edge-1"}, 2 / 11


@pytest.fixture(scope="session")
def fixed_cost_problem():
    """Cost only; switching on one fog server beats spreading the tasks.

    Three tasks of 100 MIPS. fog-a: fixed 10 per hour, compute free; fog-b:
    fixed 4 per hour, 0.01 per MIPS-hour. All on fog-b cost 4 + 3 = 7,
    all on fog-a 10. C_ref = 3 * 1 + (10 + 4) = 17, objective 7 / 17.
    """
    tasks = tuple(_task(f"t-{k}", 100.0) for k in range(3))
    nodes = (
        Node("fog-a", "fog", 1000.0, 1000.0, 4, fixed_cost_per_hour=10.0),
        Node("fog-b", "fog", 1000.0, 1000.0, 4, cost_per_mips_hour=0.01,
             fixed_cost_per_hour=4.0),
    )  # fmt: skip
    links = tuple(Link(node.id, "bed-1", 5.0, 100.0) for node in nodes)
    problem = Problem(tasks, nodes, links, Weights(latency=0, cost=1, security=0))
    return problem, {task.id: "fog-b" for task in tasks}, 7 / 17


@pytest.fixture(
    scope="session", params=["capacity_problem", "rules_problem", "fixed_cost_problem"]
)
def tiny_case(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def tiny_gap():
    """2 agents, 3 jobs; all 8 assignments checked by hand.

    Feasible ones (agent of job 0, 1, 2: cost): 0,1,0: 8; 0,1,1: 9;
    1,0,0: 10; 1,0,1: 11; 1,1,0: 12. The other three overload an agent.
    So the minimum is 8 and the maximum 12.
    """
    return GapInstance(
        "tiny",
        cost=((1, 2, 3), (5, 4, 4)),
        use=((3, 3, 2), (2, 3, 2)),
        capacity=(5, 5),
    )


@pytest.fixture(scope="session")
def tiny_gap_optima():
    """Optimal value and agent per job of ``tiny_gap``, by sense."""
    return {
        "min": (8, ("agent-0", "agent-1", "agent-0")),
        "max": (12, ("agent-1", "agent-1", "agent-0")),
    }
