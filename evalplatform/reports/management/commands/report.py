"""``manage.py report --project SLUG``: compute the project's agreement report here, store it, print it.

The same computation a worker runs (``reports.services.compute``), in this process: useful without a
worker, in scripts and in CI.  ``--format json`` prints the stored result (its ``dimensions`` have the
per-dimension shape ``manage.py agreement`` prints) on one line, ``--indent 2`` indented for reading;
``--format table`` prints text tables.

The parameters are the newest report's (the lead's last choice, say ``include_paused: false``) unless
a flag gives one: ``--bootstrap``, ``--seed``, ``--[no-]include-automated``, ``--[no-]include-paused``,
``--[no-]include-gold``, ``--[no-]icc``.
"""

from __future__ import annotations

import json
from argparse import BooleanOptionalAction
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evalplatform.projects.models import Project
from evalplatform.reports import services
from evalplatform.reports.templatetags.report_tags import num
from evalplatform.stats.cli import render_table


def render_extra(result: dict[str, Any]) -> str:
    """The report's own sections as text: coverage, raters' time, metadata flags."""
    out = []
    cov = result.get("coverage") or {}
    if cov:
        out.append(f"Coverage: {cov.get('ratings', 0)} ratings by {cov.get('raters', 0)} raters; "
                   f"{cov.get('complete', 0)} of {cov.get('tasks', 0)} tasks fully rated.")
    raters = result.get("raters") or []
    if raters:
        out.append("Raters: " + ", ".join(
            f"{r['rater']} {r['n_ratings']} ratings, median {num(r['median_seconds'], 0)} s" for r in raters))
    for field in (result.get("metadata") or {}).get("fields", []):
        for dim in field["dimensions"]:
            for row in dim["rows"]:
                if row.get("flag"):
                    out.append(f"By {field['key']}: {row['model']} scores {dim['dimension']} {row['flag']} its mean "
                               f"for {field['key']}={row['value']} ({num(row['mean'], 2)} vs {num(row['overall'], 2)}, "
                               f"n={row['n']})")
    return "\n".join(out)


class Command(BaseCommand):
    help = "Compute a project's agreement report in this process, store it, and print it."
    # A data command: Django's system checks (``manage.py check``, ``runserver``, ``migrate`` run them) would
    # load every URLconf, view and admin first, about a second of start-up for a few-second command.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--format", choices=("json", "table"), default="json")
        # Compact by default: only an indent-free dump runs in json's C encoder.  A 20,000-item report's
        # JSON is some 20 MB, which the pure-Python encoder an indent needs took 4-6 s to write.
        parser.add_argument("--indent", type=int, default=None,
                            help="indent the JSON by this many spaces (slower: default compact, one line)")
        # Every parameter the API takes.  Left out, a parameter keeps the newest report's value (the
        # lead's last choice), so running this command never silently undoes it.
        parser.add_argument("--bootstrap", type=int, default=None,
                            help="bootstrap resamples (default: the newest report's, else 1000)")
        parser.add_argument("--seed", type=int, default=None, help="seed of the bootstrap (default: the newest "
                            "report's, else 0)")
        for flag, what in (("include-automated", "count automated judges' ratings"),
                           ("include-paused", "count paused raters' ratings"),
                           ("include-gold", "count ratings of gold (quality-check) items"),
                           ("icc", "intraclass correlations for ordinal dimensions too")):
            parser.add_argument(f"--{flag}", action=BooleanOptionalAction, default=None,
                                help=f"{what} (default: as the newest report)")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        try:
            given = {key: options[key] for key in services.DEFAULT_PARAMETERS if options.get(key) is not None}
            report = services.create_report(
                project=project, trigger="command", **{**services.parameters_in_force(project), **given}
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        try:
            done = services.compute(report_id=report.pk)
        except Exception as exc:
            services.mark_failed(report_id=report.pk, error=services.describe(exc))
            raise CommandError(f"report {report.pk} failed: {services.describe(exc)}") from exc
        if done is None or done.result is None:  # only if someone deleted or failed it meanwhile
            raise CommandError(f"report {report.pk} was not computed")
        if options["format"] == "json":
            indent = options["indent"]
            self.stdout.write(json.dumps(done.result, allow_nan=False, ensure_ascii=False, indent=indent,
                                         separators=None if indent is not None else (",", ":")))
            return
        self.stdout.write(f"Report {done.pk} of {project.name} ({project.slug}): {done.n_ratings} ratings, "
                          f"data sequence {done.data_seq}.\n")
        self.stdout.write(render_table(done.result))
        extra = render_extra(done.result)
        if extra:
            self.stdout.write("\n" + extra)
