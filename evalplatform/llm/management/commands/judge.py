"""``manage.py judge --project SLUG --endpoint NAME [--tasks ID ...] [--template-file FILE]``: run an LLM judge
on the project's rubric; each valid answer becomes the rating of the automated rater ``judge:<endpoint>``.

``--status RUN``, ``--cancel RUN`` and ``--resume RUN`` watch, stop and restart a run.
"""

from __future__ import annotations

from django.core.management.base import CommandParser

from evalplatform.llm import services
from evalplatform.llm.management.runs import RunCommand
from evalplatform.llm.models import ModelEndpoint, Run
from evalplatform.projects.models import Project


class Command(RunCommand):
    help = "Run LLM judges on a project's tasks against its rubric; answers become automated ratings."
    kind = Run.Kind.JUDGE

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--tasks", nargs="+", type=int, metavar="ID", help="the tasks' ids (default: all but gold)")
        parser.add_argument("--include-gold", action="store_true", help="judge gold tasks too")

    def start(self, project: Project, endpoints: list[ModelEndpoint], template: str | None, options: dict) -> Run:
        return services.start_judge(project=project, endpoints=endpoints, template=template, tasks=options["tasks"],
                                    include_gold=options["include_gold"])
