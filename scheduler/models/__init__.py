from scheduler.models.inventory import ComputeNode, WeightProfile
from scheduler.models.runs import Placement, PlanningRun

__all__ = ["ComputeNode", "Placement", "PlanningRun", "WeightProfile"]
