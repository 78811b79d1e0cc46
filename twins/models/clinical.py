from django.conf import settings
from django.db import models
from django.utils import timezone


class Spo2ScaleDecision(models.Model):
    """A documented decision to score a patient's SpO2 on NEWS2 scale 1 or 2.

    Rows are only added: the newest one is the patient's current scale, and
    the older ones are the history an audit needs.
    """

    patient = models.ForeignKey(
        "twins.Patient", on_delete=models.PROTECT, related_name="spo2_decisions"
    )
    scale = models.PositiveSmallIntegerField(choices=[(1, "scale 1"), (2, "scale 2")])
    previous_scale = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=500)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decided_at", "pk"]

    def __str__(self):
        return f"{self.patient_id} to SpO2 scale {self.scale} at {self.decided_at}"
