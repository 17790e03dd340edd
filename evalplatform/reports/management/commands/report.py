"""``manage.py report --project SLUG``: compute the project's agreement report here, store it, print it.

The same computation a worker runs (``reports.services.compute``), in this process: useful without a
worker, in scripts and in CI.  ``--format json`` prints the stored result (its ``dimensions`` have the
per-dimension shape ``manage.py agreement`` prints); ``--format table`` prints text tables.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evalplatform.projects.models import Project
from evalplatform.reports import services
from evalplatform.reports.management.commands.agreement import render_table
from evalplatform.reports.templatetags.report_tags import num


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

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--format", choices=("json", "table"), default="json")
        parser.add_argument("--bootstrap", type=int, default=None, help="bootstrap resamples (default 1000)")
        parser.add_argument("--seed", type=int, default=None, help="seed of the bootstrap (default 0)")
        parser.add_argument("--include-automated", action="store_true", help="count automated judges' ratings")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        try:
            report = services.create_report(
                project=project, trigger="command", bootstrap=options["bootstrap"], seed=options["seed"],
                include_automated=options["include_automated"] or None,
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
            self.stdout.write(json.dumps(done.result, indent=2, allow_nan=False, ensure_ascii=False))
            return
        self.stdout.write(f"Report {done.pk} of {project.name} ({project.slug}): {done.n_ratings} ratings, "
                          f"data sequence {done.data_seq}.\n")
        self.stdout.write(render_table(done.result))
        extra = render_extra(done.result)
        if extra:
            self.stdout.write("\n" + extra)
