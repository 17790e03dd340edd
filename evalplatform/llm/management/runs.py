"""What ``manage.py generate`` and ``manage.py judge`` share: the same options, watching, cancel and resume."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evalplatform.dispatch import runner
from evalplatform.llm import services
from evalplatform.llm.models import ModelEndpoint, Run
from evalplatform.llm.selectors import run_summary
from evalplatform.projects.models import Project


class RunCommand(BaseCommand):
    kind: str = ""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", help="the project's slug (to start a run)")
        parser.add_argument("--endpoint", action="append", default=[], metavar="NAME",
                            help="a model endpoint's name (repeat for several)")
        parser.add_argument("--template", help="the prompt template's text")
        parser.add_argument("--template-file", type=Path, help="read the prompt template from this file")
        parser.add_argument("--no-wait", action="store_true",
                            help="start the run on the workers and return (only with a broker: REDIS_URL)")
        parser.add_argument("--status", type=int, metavar="RUN", help="print a run's progress")
        parser.add_argument("--cancel", type=int, metavar="RUN", help="cancel a run")
        parser.add_argument("--resume", type=int, metavar="RUN", help="resume a cancelled or failed run")
        parser.add_argument("--format", choices=("text", "json"), default="text")

    def start(self, project: Project, endpoints: list[ModelEndpoint], template: str | None, options: dict) -> Run:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        run: Run | None
        if options["status"] or options["cancel"] or options["resume"]:
            run_id = options["status"] or options["cancel"] or options["resume"]
            run = Run.objects.filter(pk=run_id, kind=self.kind).first()
            if run is None:
                raise CommandError(f"no {self.kind} run {run_id}")
            if options["cancel"]:
                run = services.cancel_run(run=run)
            elif options["resume"]:
                run = self._wait(services.resume_run(run=run), options)
            self._print(run, options)
            return
        if not options["project"]:
            raise CommandError("--project is required to start a run (or give --status, --cancel or --resume RUN)")
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with slug {options['project']!r}")
        names = list(dict.fromkeys(options["endpoint"]))
        if not names:
            raise CommandError("give at least one --endpoint NAME")
        endpoints = list(ModelEndpoint.objects.filter(name__in=names))
        unknown = set(names) - {e.name for e in endpoints}
        if unknown:
            raise CommandError(f"no model endpoint(s) {', '.join(sorted(unknown))}; register them in the admin")
        template = options["template"]
        if options["template_file"]:
            try:
                template = options["template_file"].read_text()
            except OSError as exc:
                raise CommandError(f"cannot read {options['template_file']}: {exc.strerror}") from None
        try:
            run = self.start(project, endpoints, template, options)
        except services.RunError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"{self.kind} run {run.pk}: {run.calls.count()} calls, prompt {run.prompt_version}")
        self._print(self._wait(run, options), options)

    def _wait(self, run: Run, options: dict) -> Run:
        """Follow the run to its end (workers, or this process's threads in the embedded mode)."""
        if options["no_wait"]:
            if runner() != "celery":
                raise CommandError("--no-wait needs workers (REDIS_URL); in the embedded mode the run works in this process")
            return run
        last = None
        while True:
            run.refresh_from_db()
            progress = run_summary(run)["progress"]
            line = f"{progress['finished']}/{progress['total']} calls, {progress['invalid']} invalid, {progress['failed']} failed"
            if line != last:
                self.stderr.write(line)
                last = line
            if run.status != Run.Status.RUNNING:
                return run
            time.sleep(0.5)

    def _print(self, run: Run, options: dict) -> None:
        summary = run_summary(run)
        if options["format"] == "json":
            self.stdout.write(json.dumps(summary, indent=2, default=str))
            return
        p = summary["progress"]
        self.stdout.write(
            f"{run.kind} run {run.pk} of {summary['project']} ({', '.join(summary['endpoints'])}): {run.status}; "
            f"{p['done']} done, {p['invalid']} invalid, {p['failed']} failed, {p['cancelled']} cancelled, "
            f"{p['pending'] + p['running']} open of {p['total']}; {p['cached']} from the cache; "
            f"tokens {p['prompt_tokens']} in / {p['completion_tokens']} out; cost {p['cost']}; prompt {run.prompt_version}"
        )
