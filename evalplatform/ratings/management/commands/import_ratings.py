from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evalplatform.projects.models import Project
from evalplatform.projects.records import ImportRejected
from evalplatform.ratings.importing import import_ratings


class Command(BaseCommand):
    help = "Import ratings collected elsewhere (item_id, model, rater, dimension, value), all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--format", choices=["jsonl", "csv", "json"], help="default: from the file name")
        parser.add_argument(
            "--automated", action="store_true",
            help="the raters are automated judges (stored as judge:<name>; never served, never in overlap)",
        )

    def handle(self, *args, file: Path, project: str, format: str | None, automated: bool, **options):
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"no project {project!r}", returncode=2)
        try:
            handle = file.open("rb")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}", returncode=2) from exc
        try:
            with handle:
                summary = import_ratings(project=target, stream=handle, fmt=format, name=file.name, automated=automated)
        except ImportRejected as exc:
            raise CommandError(f"{file}: {exc}\n  " + "\n  ".join(exc.lines()), returncode=2) from exc
        self.stdout.write(f"{file}: {summary}")
