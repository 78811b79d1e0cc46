from django.conf import settings
from django.db import models
from django.db.models import Q


class Ward(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    nurses = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="wards",
        help_text="Nurses assigned to this ward; only they see it live.",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name

    @property
    def group_name(self) -> str:
        return f"ward-{self.pk}"


class Bed(models.Model):
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="beds")
    code = models.SlugField(max_length=32, unique=True)
    label = models.CharField(max_length=50)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Patient(models.Model):
    """A patient known only by a pseudonym; no identifying data is stored."""

    pseudonym = models.CharField(max_length=32, unique=True)
    bed = models.ForeignKey(
        Bed, null=True, blank=True, on_delete=models.PROTECT, related_name="patients"
    )
    spo2_scale = models.PositiveSmallIntegerField(
        default=1,
        choices=[(1, "NEWS2 SpO2 scale 1"), (2, "NEWS2 SpO2 scale 2")],
        help_text="Scale 2 only for a clinician-prescribed target of 88-92 %.",
    )
    admitted_at = models.DateTimeField()
    discharged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bed"],
                condition=Q(discharged_at__isnull=True),
                name="one_admitted_patient_per_bed",
            )
        ]

    def __str__(self):
        return self.pseudonym
