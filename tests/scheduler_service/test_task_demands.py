"""Task demands in the planning problem come from the measured task costs."""

import pytest

from scheduler.core import TaskKind
from scheduler.core.scenario import TASK_PROFILES
from scheduler.planning import MEASURED_SHARE_PER_RUN, build_problem
from twins.task_costs import load_costs

pytestmark = pytest.mark.django_db


def demands(problem) -> dict:
    return {
        task.kind: task.mi_per_run for task in problem.tasks if task.bed == "icu1-bed01"
    }


def test_measured_demands_used(demo_icu, settings):
    settings.TASK_DEMANDS = "measured"
    costs = load_costs()
    planned = demands(build_problem(demo_icu).problem)
    for name, share in MEASURED_SHARE_PER_RUN.items():
        expected = costs.million_instructions(name) * share
        assert planned[TaskKind(name)] == pytest.approx(expected)
    assert planned[TaskKind.ANOMALY_DETECTION] != (
        TASK_PROFILES[TaskKind.ANOMALY_DETECTION].mi_per_run
    )


def test_published_demands_used(demo_icu, settings):
    settings.TASK_DEMANDS = "published"
    planned = demands(build_problem(demo_icu).problem)
    for kind, profile in TASK_PROFILES.items():
        assert planned[kind] == profile.mi_per_run
