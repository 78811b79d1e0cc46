from django.core.management.base import BaseCommand, CommandError

from scheduler.audit import verify_chain


class Command(BaseCommand):
    help = "Recompute the placement log's hash chain and report the first broken link."

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.intact:
            raise CommandError(
                f"chain broken at index {report.broken_at} (run {report.run_id}): "
                f"{report.reason}; {report.checked} runs before it are intact"
            )
        self.stdout.write(f"placement log intact: {report.checked} runs checked")
