"""``manage.py agreement FILE``: the agreement report of a CSV / JSONL ratings file, without a database.

The statistics engine's own command line (``evalplatform.stats.cli``, ``python -m evalplatform.stats``)
with Django's command conventions: the same arguments, report and messages; bad input exits with
status 2.  See ``evalplatform/stats/cli.py`` for the columns and options.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evalplatform.stats import cli


class Command(BaseCommand):
    help = cli.HELP
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = cli.report_for(options, warn=self.stderr)
        except cli.UsageError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(cli.render(report, options["format"]))
