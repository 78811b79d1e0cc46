from django.core.management.base import BaseCommand, CommandError

from scheduler import cli
from scheduler.core import SOLVERS
from scheduler.core.exact import BACKENDS
from scheduler.core.gap import SENSES


class Command(BaseCommand):
    help = (
        "Solve Generalized Assignment Problem files (OR-Library or "
        "one-instance layout) and report each instance's value, status and "
        "time, and its gap to a known value."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="GAP files")
        parser.add_argument(
            "--solver", default="exact", help=f"one of {', '.join(SOLVERS)}"
        )
        parser.add_argument(
            "--sense",
            default="min",
            help=f"objective sense, one of {', '.join(SENSES)} (default: min)",
        )
        parser.add_argument(
            "--time-limit",
            default=str(cli.DEFAULT_TIME_LIMIT_S),
            help="time limit per instance in seconds (greedy ignores it)",
        )
        parser.add_argument(
            "--seed", default="0", help="seed of the hybrid solver (default: 0)"
        )
        parser.add_argument(
            "--backend",
            default="auto",
            help=f"MILP back end of the exact solver, one of {', '.join(BACKENDS)}",
        )
        parser.add_argument(
            "--known",
            help="CSV file with the columns instance, sense, value: the optimum "
            "or best-known value to measure the gap against",
        )
        parser.add_argument(
            "--json", dest="json_path", help="write one JSON row per instance here"
        )

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        try:
            parsed = cli.parse_gap_options(
                options["files"],
                solver=options["solver"],
                sense=options["sense"],
                time_limit=options["time_limit"],
                seed=options["seed"],
                backend=options["backend"],
                known=options["known"],
                json_path=options["json_path"],
            )
            rows = cli.solve_gap_files(parsed, progress=self._progress)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if parsed.json_path is not None:
            cli.write_json(rows, parsed.json_path)
        self.stdout.write(cli.format_gap_table(rows))

    def _progress(self, line: str) -> None:
        if self.verbosity >= 2:
            self.stderr.write(line)
