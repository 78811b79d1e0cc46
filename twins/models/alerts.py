from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Priority(models.TextChoices):
    """Alarm priorities in the sense of IEC 60601-1-8."""

    HIGH = "high", "high"
    MEDIUM = "medium", "medium"
    LOW = "low", "low"


class AlertState(models.TextChoices):
    ACTIVE = "active", "active"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    ESCALATED = "escalated", "escalated"
    RESOLVED = "resolved", "resolved"


class AlertKind(models.TextChoices):
    NEWS2 = "news2", "NEWS2 risk band"
    SUSTAINED_CHANGE = "sustained_change", "sustained change in a vital sign"
    ASYSTOLE = "asystole", "asystole"
    SIGNAL_LOST = "signal_lost", "signal lost"
    SIGNAL_QUALITY = "signal_quality", "artefact in a vital-sign stream"


class Alert(models.Model):
    """One alarm condition of one bed, from raise to resolve.

    At most one unresolved alert exists per bed and kind, so a condition that
    persists over many readings keeps a single alert.
    """

    bed = models.ForeignKey(
        "twins.Bed", on_delete=models.PROTECT, related_name="alerts"
    )
    patient = models.ForeignKey(
        "twins.Patient", null=True, blank=True, on_delete=models.PROTECT
    )
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    priority = models.CharField(max_length=8, choices=Priority.choices)
    message = models.CharField(max_length=300)
    state = models.CharField(
        max_length=16, choices=AlertState.choices, default=AlertState.ACTIVE
    )
    raised_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    silenced_until = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    clear_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the condition was last seen to clear; it resolves after "
        "a hold time, so a value that flickers across a threshold keeps one alert.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bed", "kind"],
                condition=~Q(state="resolved"),
                name="one_open_alert_per_bed_and_kind",
            )
        ]
        indexes = [models.Index(fields=["bed", "state"])]
        ordering = ["-raised_at"]

    def __str__(self):
        return f"{self.priority} {self.kind} alert on {self.bed_id} ({self.state})"


class AlertAction(models.Model):
    """An audit row for every transition of an alert; never updated."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="actions")
    action = models.CharField(max_length=16)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="Empty when the twin itself acted (raise, auto-escalate, resolve).",
    )
    at = models.DateTimeField(default=timezone.now)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    note = models.CharField(max_length=500, blank=True)
    silenced_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.action} of alert {self.alert_id} at {self.at}"


# Limits an admin may set per priority, with the bounds the form enforces. A
# high-priority alert must escalate within 5 minutes and cannot be silenced
# for more than 5 minutes at a time.
THRESHOLD_BOUNDS = {
    "high": {"escalate_after_seconds": (10, 300), "max_silence_minutes": (1, 5)},
    "medium": {"escalate_after_seconds": (10, 1800), "max_silence_minutes": (1, 15)},
    "low": {"escalate_after_seconds": (10, 7200), "max_silence_minutes": (1, 60)},
}


class AlertThreshold(models.Model):
    """An admin's escalation and silence limits for one alert priority.

    Without a row, the priority uses the defaults from the settings and
    ``twins.alerts.MAX_SILENCE_MINUTES``.
    """

    priority = models.CharField(max_length=8, choices=Priority.choices, unique=True)
    escalate_after_seconds = models.PositiveIntegerField()
    max_silence_minutes = models.PositiveSmallIntegerField()

    def __str__(self):
        return f"{self.priority}: escalate after {self.escalate_after_seconds} s"
