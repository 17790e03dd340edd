"""``manage.py generate --project SLUG --endpoint NAME [--endpoint NAME] [--template "..."] [--items ID ...]``:
draft a response to each item with each endpoint (``llm.services.start_generation``) and follow the run.

``--status RUN``, ``--cancel RUN`` and ``--resume RUN`` watch, stop and restart a run.
"""

from __future__ import annotations

from django.core.management.base import CommandParser

from evalplatform.llm import prompts, services
from evalplatform.llm.management.runs import RunCommand
from evalplatform.llm.models import ModelEndpoint, Run
from evalplatform.projects.models import Project


class Command(RunCommand):
    help = "Generate draft responses to a project's items with model endpoints; they become tasks for raters."
    kind = Run.Kind.GENERATION

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--items", nargs="+", metavar="ID", help="the items' ids (default: every item)")

    def start(self, project: Project, endpoints: list[ModelEndpoint], template: str | None, options: dict) -> Run:
        return services.start_generation(project=project, endpoints=endpoints,
                                         template=template or prompts.DEFAULT_GENERATION_TEMPLATE, items=options["items"])
