"""Convert a placement problem to JSON data and back.

A run stores the problem it solved, so its placements can be explained and
its solvers compared later on the same figures, whatever the inventory and
the twins look like by then.
"""

from dataclasses import asdict

from scheduler import core

FORMAT_VERSION = 1


def _plain(item) -> dict:
    data = asdict(item)
    for key, value in data.items():
        if isinstance(value, core.Tier | core.TaskKind):
            data[key] = value.value
    return data


def problem_to_dict(problem: core.Problem) -> dict:
    return {
        "version": FORMAT_VERSION,
        "tasks": [_plain(task) for task in problem.tasks],
        "nodes": [_plain(node) for node in problem.nodes],
        "links": [_plain(link) for link in problem.links],
        "weights": asdict(problem.weights),
        "current": dict(problem.current or {}),
        "migration_penalty": problem.migration_penalty,
    }


def problem_from_dict(data: dict, weights: core.Weights | None = None) -> core.Problem:
    """Rebuild a problem; ``weights`` replaces the stored weights if given.

    Raises ``ValueError`` naming the field if the data are not a valid
    problem of this format.
    """
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise ValueError(
            f"snapshot version={version!r} is invalid: expected {FORMAT_VERSION}"
        )
    return core.Problem(
        tasks=[core.Task(**task) for task in data["tasks"]],
        nodes=[core.Node(**node) for node in data["nodes"]],
        links=[core.Link(**link) for link in data["links"]],
        weights=weights or core.Weights(**data["weights"]),
        current=data.get("current") or None,
        migration_penalty=data.get("migration_penalty", 0.0),
    )
