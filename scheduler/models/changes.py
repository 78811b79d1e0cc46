from django.conf import settings
from django.db import models


class ChangeKind(models.TextChoices):
    WEIGHTS = "weights", "objective weights"
    NODE = "node", "compute node"
    NODE_STATE = "node_state", "node up or down"
    HEARTBEAT_TOKEN = "heartbeat_token", "heartbeat token"
    ALERT_THRESHOLDS = "alert_thresholds", "alert thresholds"


class ChangeLog(models.Model):
    """One change to the scheduler's settings: who, when, old and new value, why.

    Rows are only ever added. ``user`` is empty for changes the system makes
    itself, such as a node marked down after missed heartbeats.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    target = models.CharField(max_length=100)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    reason = models.TextField()

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.kind} {self.target} at {self.at:%Y-%m-%d %H:%M:%S}"
