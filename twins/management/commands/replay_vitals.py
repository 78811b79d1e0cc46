from django.core.management.base import BaseCommand, CommandError

from twins.models import Ward
from twins.replay import (
    DEFAULT_LOOP_GAP_SECONDS,
    Replay,
    available_records,
    load_record,
)


class Command(BaseCommand):
    help = "Stream the real BIDMC recordings into a ward's beds at 1 Hz."

    def add_arguments(self, parser):
        parser.add_argument("--ward", default="icu-1", help="ward code (default icu-1)")
        parser.add_argument(
            "--seconds",
            type=int,
            default=None,
            help="stop after this many seconds (default: run until stopped)",
        )
        parser.add_argument(
            "--loop-gap-seconds",
            type=int,
            default=DEFAULT_LOOP_GAP_SECONDS,
            help="seconds without data between two loops of a record",
        )

    def handle(self, *args, **options):
        if options["seconds"] is not None and options["seconds"] < 1:
            raise CommandError(
                f"--seconds {options['seconds']} is invalid: use 1 or more"
            )
        ward = Ward.objects.filter(code=options["ward"]).first()
        if ward is None:
            raise CommandError(
                f"--ward {options['ward']!r} not found: run 'python manage.py "
                "seed_demo' or give an existing ward code"
            )
        beds = list(ward.beds.order_by("code").values_list("code", flat=True))
        records = [load_record(path) for path in available_records()]
        try:
            replay = Replay(beds, records, options["loop_gap_seconds"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"replaying {len(records)} recordings into {len(beds)} beds of {ward.code}"
        )
        try:
            replay.run(seconds=options["seconds"])
        except KeyboardInterrupt:
            self.stdout.write("replay stopped")
