from django.conf import settings
from django.contrib.postgres.fields import ArrayField
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
        indexes = [
            models.Index(fields=["bed", "parameter", "-observed_at"]),
            # Flagged readings are few, so the history finds a day's flagged
            # readings here without scanning the day.
            models.Index(
                fields=["bed", "parameter", "-observed_at"],
                condition=models.Q(flagged=True),
                name="observation_flagged",
            ),
        ]

    def __str__(self):
        return f"{self.bed_id} {self.parameter}={self.value} at {self.observed_at}"


# Width of an ObservationRollup bin. History buckets whose width is a multiple
# of it (36 s for 6 h, 144 s for 24 h) are built from bins, and since both are
# aligned to the epoch no bin straddles a bucket edge. The triggers in
# migration 0007 repeat the width, so changing it needs a new migration.
ROLLUP_SECONDS = 36


class ObservationRollup(models.Model):
    """Extremes and newest reading of one parameter of one bed over a bin.

    Rows are written by database triggers on ``Observation`` (migration
    ``0007_observation_rollup``), never by Python, so every insert path and
    any later correction or deletion of readings keeps them exact. They let
    a day of history be read from 2,400 rows per parameter instead of 86,400.

    ``low`` is ``[value, epoch seconds]`` of the lowest unflagged reading and
    ``high`` is ``[value, -epoch seconds]`` of the highest. Both are empty
    when every reading in the bin is flagged. ``last`` is ``[epoch seconds,
    value, flagged]`` of the newest reading. Arrays compare element by
    element, so the minimum and maximum of these over several bins are the
    extremes over the readings themselves.
    """

    bed = models.ForeignKey("twins.Bed", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        "twins.Patient",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    parameter = models.CharField(max_length=32, choices=PARAMETER_CHOICES)
    bin_start = models.DateTimeField()
    low = ArrayField(models.FloatField(), size=2, null=True)
    high = ArrayField(models.FloatField(), size=2, null=True)
    last = ArrayField(models.FloatField(), size=3)
    readings = models.PositiveIntegerField()

    class Meta:
        constraints = [
            # Also the index the history query reads by. NULLs not distinct:
            # a bed without a patient still has one row per bin.
            models.UniqueConstraint(
                fields=["bed", "parameter", "bin_start", "patient"],
                name="one_rollup_per_bed_parameter_bin_patient",
                nulls_distinct=False,
            )
        ]

    def __str__(self):
        return f"{self.bed_id} {self.parameter} bin {self.bin_start}"


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
