from scheduler.models.changes import ChangeLog
from scheduler.models.inventory import ComputeNode, WeightProfile
from scheduler.models.learning import HybridPolicy
from scheduler.models.runs import Placement, PlanningRun

__all__ = [
    "ChangeLog",
    "ComputeNode",
    "HybridPolicy",
    "Placement",
    "PlanningRun",
    "WeightProfile",
]
