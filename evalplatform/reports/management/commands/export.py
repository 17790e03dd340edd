"""``manage.py export --project SLUG --format FORMAT [--output FILE]``: a project's data out, streamed.

Formats: ``csv`` / ``jsonl`` (every score in long format: one row per item, model, rater and
dimension), ``items-csv`` / ``items-jsonl`` (per item, model and dimension: n, mean, median, ...),
``preferences`` (pairwise projects: chosen/rejected pairs, ``--min-margin`` to keep clear ones only),
``reward`` (per-response mean scores for reward models) and ``report`` (the newest stored
agreement report as JSON).  Rows stream from the database in chunks, so memory does not grow with
the project; CSV cells that a spreadsheet would run as formulas are neutralised.

Every export holds what the project's newest report counted (no gold tasks, automated judges or
paused raters unless the report took them; never ratings a lead excluded) and says on standard
error what it left out; ``--include-gold``, ``--include-paused``, ``--include-automated``,
``--include-excluded`` (or ``--include-all``) keep them.  ``--with-text`` adds prompt and response
to ratings rows; ``--split 0.1 --seed 0`` marks preference pairs train/test by item.
``--manifest FILE`` writes the export's manifest beside it (``ratings.exports.export_manifest``: the
options and what was left out with counts by reason, the SHA-256 of its ratings as a report's manifest
computes it, software versions, the time).
"""

from __future__ import annotations

import json
from argparse import BooleanOptionalAction
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evalplatform.projects.models import Project
from evalplatform.ratings import exports
from evalplatform.reports.selectors import latest_done, report_document


class Command(BaseCommand):
    help = "Export a project's ratings (long CSV/JSONL), per-item aggregates, preference pairs or its report."
    # A data command: Django's system checks (``manage.py check``, ``runserver``, ``migrate`` run them) would
    # load every URLconf, view and admin first, about a second of start-up for a few-second command.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--format", choices=(*exports.download_formats(), "report"), default="csv")
        parser.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
        parser.add_argument("--min-margin", type=float, default=0.0,
                            help="preferences: leave out pairs whose vote margin (0..1) is smaller")
        # By default an export holds what the project's newest report counted; these keep the rest.
        for flag, what in (("include-gold", "ratings of gold tasks"), ("include-paused", "paused raters' ratings"),
                           ("include-automated", "automated judges' ratings"),
                           ("include-excluded", "ratings a lead excluded")):
            parser.add_argument(f"--{flag}", action=BooleanOptionalAction, default=None,
                                help=f"{what} (default: as the newest report; excluded ones: left out)")
        parser.add_argument("--include-all", action="store_true", help="every rating: all four of the above")
        parser.add_argument("--with-text", action="store_true",
                            help="csv / jsonl: add the prompt and the response(s) to each row")
        parser.add_argument("--split", type=float, default=None, metavar="TEST_SHARE",
                            help="preferences: mark each pair train or test, this share of items (0..1) in test")
        parser.add_argument("--seed", type=int, default=0, help="preferences: the seed of --split")
        parser.add_argument("--manifest", default=None, metavar="FILE",
                            help="write the export's manifest (JSON: options, what was left out and why, the "
                                 "SHA-256 of its ratings, software versions) to FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        fmt, min_margin, split = options["format"], options["min_margin"], options["split"]
        if not 0.0 <= min_margin <= 1.0:
            raise CommandError(f"--min-margin must be between 0 and 1 (got {min_margin})")
        if split is not None and not 0.0 <= split <= 1.0:
            raise CommandError(f"--split must be between 0 and 1 (got {split})")
        flags = ("include_gold", "include_paused", "include_automated", "include_excluded")
        chosen = exports.export_options(project, with_text=options["with_text"], **{
            flag: True if options["include_all"] else options[flag] for flag in flags
        })
        try:
            pieces = (
                self._report(project) if fmt == "report"
                else exports.download_lines(project, fmt, min_margin=min_margin, options=chosen, split=split,
                                            seed=options["seed"])
            )
        except exports.ExportError as exc:
            raise CommandError(str(exc)) from None
        if fmt != "report":
            self.stderr.write(chosen.describe())
        if options["manifest"]:
            if fmt == "report":
                raise CommandError("--manifest: the report carries its own manifest (result.manifest)")
            manifest = exports.export_manifest(project, fmt, chosen, min_margin=min_margin, split=split,
                                               seed=options["seed"])
            Path(options["manifest"]).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                                 encoding="utf-8")
            self.stderr.write(f"Manifest {options['manifest']} (ratings SHA-256 {manifest['ratings_sha256']})"
                              if manifest else f"Manifest {options['manifest']}")
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
        report = latest_done(project)
        if report is None:
            raise CommandError(f"project {project.slug!r} has no finished report yet; run manage.py report "
                               f"--project {project.slug} to compute one")
        return [json.dumps(report_document(report), indent=2, ensure_ascii=False) + "\n"]
