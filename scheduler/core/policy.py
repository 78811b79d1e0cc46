"""Learned placement preferences for the hybrid solver.

A ``Policy`` holds one preference per (task group, node group), which for a
ward are (task kind, node tier). A task's probability of being sent to a
node is the softmax of the preferences over the node groups it may use.
After each re-plan the preferences move toward the node groups used by the
best plans found, each plan weighted by its reward (the cross-entropy
method, a policy-search form of reinforcement learning), so later re-plans
of the same ward start from placements that paid off before. The policy is
plain data and round-trips through JSON with ``to_dict``/``from_dict``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

FORMAT_VERSION = 1


@dataclass
class Policy:
    """Softmax preferences per task group and node group.

    ``learning_rate`` (0 to 1) is the step toward the elite plans' choices;
    ``reward_baseline`` is the running mean reward of past re-plans and
    ``updates`` their count.
    """

    preferences: dict[str, dict[str, float]] = field(default_factory=dict)
    learning_rate: float = 0.3
    reward_baseline: float = 0.0
    updates: int = 0

    def __post_init__(self) -> None:
        rate = self.learning_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise ValueError(
                f"Policy.learning_rate={rate!r} is invalid: expected a number"
            )
        if not 0 < rate <= 1:
            raise ValueError(
                f"Policy.learning_rate={rate!r} is invalid: expected 0 < rate <= 1"
            )

    def probabilities(self, task_group: str, node_groups: list[str]) -> list[float]:
        row = self.preferences.get(task_group, {})
        scores = [row.get(group, 0.0) for group in node_groups]
        top = max(scores)
        weights = [math.exp(score - top) for score in scores]
        total = sum(weights)
        return [weight / total for weight in weights]

    def update(
        self,
        plans: list[tuple[list[str], list[str], float]],
        node_groups: Iterable[str] = (),
    ) -> None:
        """Learn from elite plans: (task groups, node group per task, reward).

        Rewards are made non-negative relative to the worst elite plan, so a
        plan pulls the preferences in proportion to how much better it is.
        ``node_groups`` lists every group the plans could have used, so that
        groups the elite plans leave out lose preference. Without it, a task
        group whose elite plans all use one node group learns nothing.
        """
        if not plans:
            return
        universe = set(node_groups)
        worst = min(reward for _, _, reward in plans)
        weights = [reward - worst + 1e-9 for _, _, reward in plans]
        total_weight = sum(weights)
        shares = defaultdict(lambda: defaultdict(float))
        counts = defaultdict(float)
        for (task_groups, chosen, _), weight in zip(plans, weights, strict=True):
            share = weight / total_weight / len(task_groups)
            for task_group, node_group in zip(task_groups, chosen, strict=True):
                shares[task_group][node_group] += share
                counts[task_group] += share
        for task_group, row in shares.items():
            known = set(self.preferences.get(task_group, {}))
            groups = sorted(set(row) | known | universe)
            current = self.probabilities(task_group, groups)
            preferences = self.preferences.setdefault(task_group, {})
            for group, probability in zip(groups, current, strict=True):
                target = row.get(group, 0.0) / counts[task_group]
                preferences[group] = preferences.get(group, 0.0) + (
                    self.learning_rate * (target - probability) * len(groups)
                )
        best_reward = max(reward for _, _, reward in plans)
        self.updates += 1
        self.reward_baseline += (best_reward - self.reward_baseline) / self.updates

    def to_dict(self) -> dict:
        return {
            "version": FORMAT_VERSION,
            "preferences": {
                task: dict(sorted(row.items()))
                for task, row in sorted(self.preferences.items())
            },
            "learning_rate": self.learning_rate,
            "reward_baseline": self.reward_baseline,
            "updates": self.updates,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Policy:
        """Rebuild a policy from ``to_dict`` data, raising ValueError if invalid."""
        if not isinstance(data, dict):
            raise ValueError(f"Policy data={data!r} is invalid: expected a dict")
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"Policy.version={data.get('version')!r} is invalid: "
                f"expected {FORMAT_VERSION}"
            )
        preferences = data.get("preferences", {})
        if not isinstance(preferences, dict):
            raise ValueError(
                f"Policy.preferences={preferences!r} is invalid: expected a dict"
            )
        for task, row in preferences.items():
            if not isinstance(task, str) or not isinstance(row, dict):
                raise ValueError(
                    f"Policy.preferences[{task!r}]={row!r} is invalid: "
                    "expected a dict of finite numbers under a string key"
                )
            for group, value in row.items():
                if not isinstance(group, str) or not _is_finite_number(value):
                    raise ValueError(
                        f"Policy.preferences[{task!r}][{group!r}]={value!r} is "
                        "invalid: expected a finite number under a string key"
                    )
        reward_baseline = data.get("reward_baseline", 0.0)
        if not _is_finite_number(reward_baseline):
            raise ValueError(
                f"Policy.reward_baseline={reward_baseline!r} is invalid: "
                "expected a finite number"
            )
        updates = data.get("updates", 0)
        if isinstance(updates, bool) or not isinstance(updates, int) or updates < 0:
            raise ValueError(
                f"Policy.updates={updates!r} is invalid: expected an integer >= 0"
            )
        return cls(
            preferences={task: dict(row) for task, row in preferences.items()},
            learning_rate=data.get("learning_rate", 0.3),
            reward_baseline=float(reward_baseline),
            updates=updates,
        )


def _is_finite_number(value) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
    )
