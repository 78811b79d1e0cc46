import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from twins.models.devices import hash_token


class Tier(models.TextChoices):
    EDGE = "edge", "edge (bedside device)"
    FOG = "fog", "fog (in-hospital server)"
    CLOUD = "cloud", "cloud region"


class ComputeNode(models.Model):
    """A node that can run twin tasks; its figures feed the placement model."""

    name = models.SlugField(max_length=64, unique=True)
    tier = models.CharField(max_length=8, choices=Tier.choices)
    ward = models.ForeignKey(
        "twins.Ward", null=True, blank=True, on_delete=models.PROTECT,
        help_text="Ward served by an edge device or fog server; empty for cloud.",
    )  # fmt: skip
    bed = models.OneToOneField(
        "twins.Bed", null=True, blank=True, on_delete=models.PROTECT,
        help_text="The bed an edge device is attached to.",
    )  # fmt: skip
    mips = models.FloatField(
        validators=[MinValueValidator(1)],
        help_text="Compute capacity, million instructions per second.",
    )
    memory_mb = models.FloatField(validators=[MinValueValidator(1)])
    security_level = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    cost_per_mips_hour = models.FloatField(
        default=0, validators=[MinValueValidator(0)],
        help_text="Cost units per hour per MIPS of sustained demand.",
    )  # fmt: skip
    cost_per_gb = models.FloatField(
        default=0, validators=[MinValueValidator(0)],
        help_text="Cost units per GB of task input sent to the node.",
    )  # fmt: skip
    fixed_cost_per_hour = models.FloatField(
        default=0, validators=[MinValueValidator(0)],
        help_text="Cost units per hour while any task runs on the node.",
    )  # fmt: skip
    latency_ms = models.FloatField(
        validators=[MinValueValidator(0)],
        help_text="One-way network latency from a bed it serves, ms.",
    )
    bandwidth_mbps = models.FloatField(
        validators=[MinValueValidator(0.001)],
        help_text="Bandwidth from a bed it serves, Mbit/s.",
    )
    is_up = models.BooleanField(default=True)
    source = models.CharField(
        max_length=200, blank=True, help_text="Where the figures come from."
    )
    # A node with a heartbeat token is monitored: missing heartbeats mark it
    # down. Nodes without one are up or down as the admin sets them.
    heartbeat_token_hash = models.CharField(max_length=64, blank=True)
    heartbeat_token_issued_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tier", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tier="edge", bed__isnull=False) | ~Q(tier="edge"),
                name="edge_node_has_bed",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def is_monitored(self) -> bool:
        return bool(self.heartbeat_token_hash)

    def issue_heartbeat_token(self) -> str:
        """Store a new heartbeat token's hash and return the token, shown once."""
        token = secrets.token_urlsafe(32)
        self.heartbeat_token_hash = hash_token(token)
        self.heartbeat_token_issued_at = timezone.now()
        self.save(update_fields=["heartbeat_token_hash", "heartbeat_token_issued_at"])
        return token

    @classmethod
    def for_heartbeat_token(cls, token: str) -> "ComputeNode | None":
        if not token:
            return None
        return cls.objects.filter(heartbeat_token_hash=hash_token(token)).first()


class WeightProfile(models.Model):
    """Weights of the latency, cost and security terms of the objective."""

    name = models.SlugField(max_length=32, unique=True)
    label = models.CharField(max_length=64)
    latency = models.FloatField(validators=[MinValueValidator(0)])
    cost = models.FloatField(validators=[MinValueValidator(0)])
    security = models.FloatField(validators=[MinValueValidator(0)])
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="one_active_weight_profile",
            ),
            models.CheckConstraint(
                condition=Q(latency__gt=0) | Q(cost__gt=0) | Q(security__gt=0),
                name="weights_not_all_zero",
            ),
        ]

    def __str__(self):
        return self.label
