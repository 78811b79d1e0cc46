from django.db import models


class HybridPolicy(models.Model):
    """The hybrid solver's learned policy for one ward, or the whole hospital
    when ``ward`` is empty, as ``scheduler.core.policy.Policy.to_dict`` data.

    Each hybrid run reads it before solving and writes the updated policy in
    the transaction that stores the run's placements, so the policy learns
    only from runs that were stored and survives restarts of every process.
    """

    ward = models.OneToOneField(
        "twins.Ward", null=True, blank=True, on_delete=models.PROTECT
    )
    data = models.JSONField(default=dict)
    updates = models.PositiveIntegerField(default=0)
    last_run = models.ForeignKey(
        "scheduler.PlanningRun", null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ward"],
                nulls_distinct=False,
                name="one_hybrid_policy_per_scope",
            )
        ]

    def __str__(self):
        return f"hybrid policy of {self.ward.code if self.ward_id else 'hospital'}"
