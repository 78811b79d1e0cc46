from django.core.management.base import BaseCommand, CommandError

from scheduler import cli
from scheduler.core import PROFILES, SOLVERS
from scheduler.core.exact import BACKENDS


class Command(BaseCommand):
    help = (
        "Solve seeded ICU wards with each solver and compare them with the "
        "exact optimum, or with the best proven bound where the exact solver "
        "stops at its time limit."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--patients",
            nargs="+",
            default=["4", "8", "12"],
            help="ward sizes in patients (default: 4 8 12)",
        )
        parser.add_argument(
            "--profiles",
            nargs="+",
            default=list(PROFILES),
            help=f"weight profiles, from {', '.join(PROFILES)} (default: all)",
        )
        parser.add_argument(
            "--seeds",
            default="10",
            help="number of seeded wards per size and profile (default: 10)",
        )
        parser.add_argument(
            "--solvers",
            nargs="+",
            default=list(SOLVERS),
            help=f"solvers, from {', '.join(SOLVERS)} (default: all)",
        )
        parser.add_argument(
            "--time-limit",
            default=str(cli.DEFAULT_TIME_LIMIT_S),
            help="time limit of the exact and hybrid solvers per ward, in seconds",
        )
        parser.add_argument(
            "--backend",
            default="auto",
            help=f"MILP back end of the exact solver, one of {', '.join(BACKENDS)}",
        )
        parser.add_argument(
            "--json", dest="json_path", help="write one JSON row per solve here"
        )

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        try:
            parsed = cli.parse_compare_options(
                options["patients"],
                options["profiles"],
                options["seeds"],
                solvers=options["solvers"],
                time_limit=options["time_limit"],
                backend=options["backend"],
                json_path=options["json_path"],
            )
            rows = cli.compare_solvers(parsed, progress=self._progress)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if parsed.json_path is not None:
            cli.write_json(rows, parsed.json_path)
        self.stdout.write(cli.format_compare_table(rows))

    def _progress(self, line: str) -> None:
        if self.verbosity >= 2:
            self.stderr.write(line)
