import hashlib
import secrets

from django.db import models
from django.utils import timezone


def hash_token(token: str) -> str:
    # Tokens are 256-bit random values, so a plain SHA-256 suffices; a slow
    # password hash would only add latency to every 1 Hz request.
    return hashlib.sha256(token.encode()).hexdigest()


class DeviceToken(models.Model):
    """An API token for one bedside device or gateway; stored hashed."""

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name

    @classmethod
    def issue(cls, name: str) -> tuple["DeviceToken", str]:
        """Create a token row and return it with the plain token, shown once."""
        token = secrets.token_urlsafe(32)
        row = cls.objects.create(name=name, token_hash=hash_token(token))
        return row, token

    @classmethod
    def authenticate(cls, token: str) -> "DeviceToken | None":
        return cls.objects.filter(
            token_hash=hash_token(token), revoked_at__isnull=True
        ).first()
