"""``manage.py log_report --project SLUG --to mlflow,wandb``: log the project's newest done report to trackers."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from evalplatform.projects.models import Project
from evalplatform.reports import services, tracking


class Command(BaseCommand):
    help = "Log the project's newest finished report to experiment trackers and print each run id."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument(
            "--to", required=True,
            help=f"the tracker, or several separated by commas ({', '.join(tracking.BACKENDS)})",
        )

    def handle(self, *args, **options) -> None:
        try:
            backends = tracking.parse_backends(options["to"])
        except tracking.TrackingError as exc:
            raise CommandError(str(exc)) from exc
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project {options['project']!r}")
        report = services.latest_done(project)
        if report is None:
            raise CommandError(f"project {project.slug!r} has no finished report to log; compute one first")
        failed = []
        for backend in backends:
            try:
                run = tracking.log_report(report, to=backend)
            except Exception as exc:  # one tracker down does not keep the report from the others
                failed.append(f"{backend}: {type(exc).__name__}: {exc}")
                continue
            self.stdout.write(f"report {report.pk} logged to {run.backend}: run {run.run_id}\n")
        if failed:
            raise CommandError("could not log to " + "; ".join(failed))
