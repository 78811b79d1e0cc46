from django.conf import settings
from django.db import models


class Solver(models.TextChoices):
    EXACT = "exact", "exact MILP (PuLP)"
    GREEDY = "greedy", "greedy with repair"
    HYBRID = "hybrid", "hybrid RL + genetic search"


class RunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Trigger(models.TextChoices):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    WEIGHT_CHANGE = "weight_change", "weight change"
    INVENTORY_CHANGE = "inventory", "node inventory change"
    RISK_CHANGE = "risk_change", "risk band change"
    NODE_DOWN = "node_down", "node down"
    NODE_UP = "node_up", "node back up"


class PlanningRun(models.Model):
    """One solve of a ward's placement problem, or the whole hospital's when
    ``ward`` is empty, and its outcome.

    ``status`` tracks the run's life in the service; ``solver_status`` is
    what the solver proved (optimal, feasible, time limit, infeasible).
    """

    ward = models.ForeignKey(
        "twins.Ward", null=True, blank=True, on_delete=models.PROTECT,
        help_text="The ward planned; empty for a plan of the whole hospital.",
    )  # fmt: skip
    solver = models.CharField(max_length=8, choices=Solver.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    status = models.CharField(
        max_length=8, choices=RunStatus.choices, default=RunStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    weights = models.JSONField(default=dict)
    time_limit_s = models.FloatField(null=True, blank=True)
    solver_status = models.CharField(max_length=16, blank=True)
    feasible = models.BooleanField(null=True)
    objective = models.FloatField(null=True, blank=True)
    latency_term = models.FloatField(null=True, blank=True)
    cost_term = models.FloatField(null=True, blank=True)
    security_term = models.FloatField(null=True, blank=True)
    bound = models.FloatField(null=True, blank=True)
    gap_pct = models.FloatField(null=True, blank=True)
    wall_s = models.FloatField(null=True, blank=True)
    task_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    fallback = models.TextField(
        blank=True,
        help_text="Why the stored placement is not the requested solver's own "
        "result (time limit, failed feasibility check), and what was kept.",
    )
    # The placement problem exactly as solved (scheduler.snapshot), so each
    # placement can be explained later against the figures then in force.
    snapshot = models.JSONField(null=True, blank=True)

    # Hash chain over finished runs; see scheduler.audit.
    chain_index = models.BigIntegerField(null=True, blank=True, unique=True)
    previous_hash = models.CharField(max_length=64, blank=True)
    record_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["ward", "-created_at"])]
        constraints = [
            # A burst of triggers for one ward and solver coalesces into the
            # run that is still waiting for a worker.
            models.UniqueConstraint(
                fields=["ward", "solver"],
                condition=models.Q(status="pending"),
                nulls_distinct=False,
                name="one_pending_run_per_scope_and_solver",
            )
        ]

    def __str__(self):
        return f"run {self.pk} ({self.solver}, {self.status})"

    @property
    def scope(self) -> str:
        """The ward code, or "hospital" for a plan of every ward."""
        return self.ward.code if self.ward_id else "hospital"


class Placement(models.Model):
    """The node one twin task runs on according to one planning run."""

    run = models.ForeignKey(
        PlanningRun, on_delete=models.CASCADE, related_name="placements"
    )
    task_id = models.CharField(max_length=100)
    task_kind = models.CharField(max_length=32)
    bed = models.ForeignKey("twins.Bed", on_delete=models.PROTECT)
    patient_pseudonym = models.CharField(max_length=32, blank=True)
    urgency = models.FloatField()
    node = models.ForeignKey("scheduler.ComputeNode", on_delete=models.PROTECT)
    tier = models.CharField(max_length=8)
    # The task's demands as planned, kept so a stored plan can be checked
    # against node capacities without re-running the model.
    demand_mips = models.FloatField()
    memory_mb = models.FloatField()
    min_security = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField()
    cost = models.FloatField()
    security_exposure = models.FloatField()

    class Meta:
        ordering = ["bed__code", "task_kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "task_id"], name="one_placement_per_task_per_run"
            )
        ]

    def __str__(self):
        return f"{self.task_id} -> {self.node_id}"
