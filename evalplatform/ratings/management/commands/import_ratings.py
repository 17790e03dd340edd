from pathlib import Path

from django.core.management.base import BaseCommand

from evalplatform.projects.management.importing import import_file, project_by_slug
from evalplatform.ratings.importing import import_ratings


class Command(BaseCommand):
    help = "Import ratings collected elsewhere (item_id, model, rater, dimension, value), all or nothing."
    # A data command: Django's system checks (``manage.py check``, ``runserver``, ``migrate`` run them) would
    # load every URLconf, view and admin first, about a second of start-up for a few-second command.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--format", choices=["jsonl", "csv", "json"], help="default: from the file name")
        parser.add_argument(
            "--automated", action="store_true",
            help="the raters are automated judges (stored as judge:<name>; never served, never in overlap)",
        )
        parser.add_argument(
            "--create-raters", action="store_true",
            help="create inactive rater accounts for raters who have none (else the file is refused); "
            "existing accounts must already be raters of the project",
        )

    def handle(self, *args, file: Path, project: str, format: str | None, automated: bool, create_raters: bool,
               **options):
        target = project_by_slug(project)
        with import_file(file) as handle:
            summary = import_ratings(project=target, stream=handle, fmt=format, name=file.name, automated=automated,
                                     create_raters=create_raters)
        self.stdout.write(f"{file}: {summary}")
