"""Issue, list and revoke the API tokens bedside devices post readings with."""

import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction
from django.utils import timezone

from twins.models import DeviceToken
from twins.models.devices import hash_token


class Command(BaseCommand):
    help = "Issue, list or revoke device API tokens (stored as SHA-256 hashes)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        issue = actions.add_parser("issue", help="issue a token and print it once")
        issue.add_argument("name", help="unique device name, e.g. monitor-bed01")
        revoke = actions.add_parser("revoke", help="revoke a device's token")
        revoke.add_argument("name")
        actions.add_parser("list", help="list devices and whether they are revoked")

    def handle(self, *args, action, **options):
        if action == "issue":
            self._issue(options["name"])
        elif action == "revoke":
            self._revoke(options["name"])
        else:
            for device in DeviceToken.objects.order_by("name"):
                state = (
                    f"revoked {device.revoked_at:%Y-%m-%d %H:%M} UTC"
                    if (device.revoked_at)
                    else "active"
                )
                self.stdout.write(f"{device.name}\t{state}")

    def _issue(self, name: str) -> None:
        name = name.strip()
        if not name or len(name) > DeviceToken._meta.get_field("name").max_length:
            raise CommandError(
                f"name={name!r} is invalid: expected 1 to 100 characters"
            )
        revoked = DeviceToken.objects.filter(name=name, revoked_at__isnull=False)
        if revoked.exists():
            # A revoked device gets a new token under its old name, so its
            # readings keep their device name; the old token stays invalid.
            token = secrets.token_urlsafe(32)
            revoked.update(token_hash=hash_token(token), revoked_at=None)
            self.stdout.write(token)
            return
        try:
            with transaction.atomic():
                _, token = DeviceToken.issue(name)
        except IntegrityError:
            raise CommandError(
                f"name={name!r} is already issued: revoke it first or choose "
                "another name"
            ) from None
        # The plain token exists only here; only its hash is stored.
        self.stdout.write(token)

    def _revoke(self, name: str) -> None:
        updated = DeviceToken.objects.filter(name=name, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not updated:
            raise CommandError(f"name={name!r} not found among active device tokens")
        self.stdout.write(f"revoked {name}")
