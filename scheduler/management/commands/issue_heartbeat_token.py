from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from scheduler.models import ChangeLog, ComputeNode
from scheduler.models.changes import ChangeKind


class Command(BaseCommand):
    help = (
        "Issue a heartbeat token for a compute node and print it once. The node "
        "is monitored from then on: missed heartbeats mark it down. A new token "
        "replaces the old one."
    )

    def add_arguments(self, parser):
        parser.add_argument("node", help="name of the compute node")
        parser.add_argument(
            "--reason", required=True, help="why the token is issued, for the log"
        )

    def handle(self, *args, node, reason, **options):
        if not reason.strip():
            raise CommandError("--reason='' is invalid: give a reason for the log")
        with transaction.atomic():
            row = ComputeNode.objects.select_for_update().filter(name=node).first()
            if row is None:
                names = ", ".join(ComputeNode.objects.values_list("name", flat=True))
                raise CommandError(
                    f"node={node!r} is invalid: not found; known nodes: {names}"
                )
            replaced = row.is_monitored
            token = row.issue_heartbeat_token()
            ChangeLog.objects.create(
                kind=ChangeKind.HEARTBEAT_TOKEN,
                target=row.name,
                old_value={"monitored": replaced},
                new_value={"monitored": True},
                reason=reason.strip(),
            )
        self.stdout.write(token)
