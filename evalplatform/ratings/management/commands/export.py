"""``manage.py export --project SLUG --format FORMAT [--output FILE]``: a project's data out, streamed.

Formats: ``csv`` / ``jsonl`` (every score in long format: one row per item, model, rater and
dimension), ``items-csv`` / ``items-jsonl`` (per item, model and dimension: n, mean, median, ...),
``preferences`` (pairwise projects: chosen/rejected pairs, ``--min-margin`` to keep clear ones only),
``reward`` (per-response mean scores for reward models) and ``report`` (the newest stored
agreement report as JSON).  Rows stream from the database in chunks, so memory does not grow with
the project; CSV cells that a spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evalplatform.projects.models import Project
from evalplatform.ratings import exports

FORMATS = (*exports.DOWNLOAD_FORMATS, "report")


class Command(BaseCommand):
    help = "Export a project's ratings (long CSV/JSONL), per-item aggregates, preference pairs or its report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
        parser.add_argument("--min-margin", type=float, default=0.0,
                            help="preferences: leave out pairs whose vote margin (0..1) is smaller")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        fmt, min_margin = options["format"], options["min_margin"]
        if not 0.0 <= min_margin <= 1.0:
            raise CommandError(f"--min-margin must be between 0 and 1 (got {min_margin})")
        try:
            pieces = (
                self._report(project) if fmt == "report"
                else exports.download_lines(project, fmt, min_margin=min_margin)
            )
        except exports.ExportError as exc:
            raise CommandError(str(exc)) from None
        target = options["output"]
        if target == "-":
            for piece in pieces:
                self.stdout.write(piece, ending="")
            self.stdout.flush()
            return
        path = Path(target)
        with path.open("w", encoding="utf-8", newline="") as handle:
            for piece in pieces:
                handle.write(piece)
        self.stderr.write(f"Wrote {path}")

    def _report(self, project: Project) -> list[str]:
        from evalplatform.reports.selectors import latest_done, report_document

        report = latest_done(project)
        if report is None:
            raise CommandError(f"project {project.slug!r} has no finished report yet; run manage.py report "
                               f"--project {project.slug} to compute one")
        return [json.dumps(report_document(report), indent=2, ensure_ascii=False) + "\n"]
