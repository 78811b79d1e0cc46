"""Validation of the problem dataclasses: each bad value names field and value."""

import pytest

from scheduler.core import Link, Node, Problem, Task, TaskKind, Tier, Weights

GOOD_TASK = dict(
    id="bed-1/ecg_sync",
    bed="bed-1",
    kind="ecg_sync",
    mi_per_run=500.0,
    runs_per_s=2.0,
    input_kb=0.5,
    memory_mb=50.0,
)
GOOD_NODE = dict(id="fog-1", tier="fog", mips=40000.0, memory_mb=16000.0,
                 security_level=4)  # fmt: skip


def test_task_coerces_kind_to_enum():
    task = Task(**GOOD_TASK)
    assert task.kind is TaskKind.ECG_SYNC
    assert task.demand_mips == 1000.0


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("id", "", "non-empty string"),
        ("bed", None, "non-empty string"),
        ("kind", "ecg", "one of ecg_sync"),
        ("mi_per_run", 0, "> 0"),
        ("runs_per_s", -1.0, "> 0"),
        ("input_kb", -0.1, ">= 0"),
        ("memory_mb", float("nan"), "finite"),
        ("deadline_ms", 0, "> 0"),
        ("urgency", 0.5, ">= 1"),
        ("min_security", 6, "from 1 to 5"),
        ("min_security", 2.5, "integer"),
        ("sensitivity", 1.5, "0 to 1"),
        ("mi_per_run", "500", "a number"),
        ("urgency", True, "a number"),
    ],
)
def test_task_rejects_bad_field(field, value, allowed):
    with pytest.raises(ValueError) as error:
        Task(**{**GOOD_TASK, field: value})
    message = str(error.value)
    assert f"Task.{field}={value!r}" in message
    assert allowed in message


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("tier", "mainframe", "one of edge, fog, cloud"),
        ("mips", 0, "> 0"),
        ("memory_mb", -5, "> 0"),
        ("security_level", 0, "from 1 to 5"),
        ("cost_per_mips_hour", -0.01, ">= 0"),
        ("cost_per_gb", float("inf"), "finite"),
        ("fixed_cost_per_hour", -1, ">= 0"),
        ("is_up", "yes", "True or False"),
    ],
)
def test_node_rejects_bad_field(field, value, allowed):
    with pytest.raises(ValueError) as error:
        Node(**{**GOOD_NODE, field: value})
    message = str(error.value)
    assert f"Node.{field}={value!r}" in message
    assert allowed in message


def test_edge_node_needs_bed():
    with pytest.raises(ValueError, match=r"Node\.bed=None .*edge device"):
        Node(**{**GOOD_NODE, "tier": "edge"})
    node = Node(**{**GOOD_NODE, "tier": "edge", "bed": "bed-1"})
    assert node.tier is Tier.EDGE


@pytest.mark.parametrize(
    ("field", "value"), [("latency_ms", -1.0), ("bandwidth_mbps", 0.0)]
)
def test_link_rejects_bad_field(field, value):
    values = {"node": "fog-1", "bed": "bed-1", "latency_ms": 5.0,
              "bandwidth_mbps": 100.0}  # fmt: skip
    values[field] = value
    with pytest.raises(ValueError, match=rf"Link\.{field}={value!r}"):
        Link(**values)


def test_weights_reject_negative_and_all_zero():
    with pytest.raises(ValueError, match=r"Weights\.cost=-1 .*>= 0"):
        Weights(latency=1, cost=-1, security=0)
    with pytest.raises(ValueError, match="at least one weight > 0"):
        Weights(latency=0, cost=0, security=0)


def _problem(**changes):
    values = dict(
        tasks=(Task(**GOOD_TASK),),
        nodes=(Node(**GOOD_NODE),),
        links=(Link("fog-1", "bed-1", 5.0, 100.0),),
    )
    values.update(changes)
    return Problem(**values)


def test_problem_rejects_duplicate_ids():
    with pytest.raises(ValueError, match=r"Problem\.tasks='bed-1/ecg_sync'"):
        _problem(tasks=(Task(**GOOD_TASK), Task(**GOOD_TASK)))


def test_problem_rejects_link_to_unknown_node():
    with pytest.raises(ValueError, match=r"Problem\.links\.node='fog-9'"):
        _problem(links=(Link("fog-9", "bed-1", 5.0, 100.0),))


def test_problem_rejects_current_on_unknown_node():
    with pytest.raises(ValueError, match=r"current\['bed-1/ecg_sync'\]='gone'"):
        _problem(current={"bed-1/ecg_sync": "gone"})


def test_problem_rejects_empty_tasks_and_negative_penalty():
    with pytest.raises(ValueError, match=r"Problem\.tasks=\(\)"):
        _problem(tasks=())
    with pytest.raises(ValueError, match=r"Problem\.migration_penalty=-0\.1"):
        _problem(migration_penalty=-0.1)
