from django.conf import settings
from django.db import models
from django.utils import timezone

from twins.vitals import PARAMETERS, Source

PARAMETER_CHOICES = [(name, spec.label) for name, spec in PARAMETERS.items()]


class Observation(models.Model):
    """One stored reading, in the parameter's canonical UCUM unit.

    A reading is identified by (device, parameter, observed_at), so a device
    that resends a batch stores nothing twice.
    """

    bed = models.ForeignKey("twins.Bed", on_delete=models.PROTECT)
    patient = models.ForeignKey(
        "twins.Patient", null=True, blank=True, on_delete=models.PROTECT
    )
    device = models.CharField(max_length=100)
    parameter = models.CharField(max_length=32, choices=PARAMETER_CHOICES)
    value = models.FloatField()
    unit = models.CharField(max_length=16)
    observed_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=16, choices=Source.choices)
    flagged = models.BooleanField(
        default=False, help_text="Possible but implausible: a likely artefact."
    )
    flag_reason = models.CharField(max_length=200, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The nurse who entered the reading; empty for devices.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "parameter", "observed_at"],
                name="one_reading_per_device_parameter_time",
            )
        ]
        indexes = [models.Index(fields=["bed", "parameter", "-observed_at"])]

    def __str__(self):
        return f"{self.bed_id} {self.parameter}={self.value} at {self.observed_at}"


class TwinState(models.Model):
    """The live twin of the patient in one bed.

    ``latest`` maps each parameter to its newest reading; ``news2`` contains the
    score computed from it; ``forecast`` and ``anomalies`` come from the
    periodic twin tasks in ``twins.tasks``. ``sequence`` grows by one per
    frame sent for the bed, so a page that detects a jump has missed a frame
    and asks for a snapshot.
    """

    bed = models.OneToOneField(
        "twins.Bed", on_delete=models.CASCADE, related_name="twin"
    )
    latest = models.JSONField(default=dict)
    news2 = models.JSONField(default=dict)
    sequence = models.BigIntegerField(default=0)
    forecast = models.JSONField(
        default=dict,
        help_text="Per parameter: value, low, high, horizon and fit time.",
    )
    anomalies = models.JSONField(
        default=list, help_text="Events found by the last anomaly detection run."
    )
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"twin of {self.bed_id}"
