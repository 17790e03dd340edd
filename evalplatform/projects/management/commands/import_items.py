import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from evalplatform.projects.models import Project
from evalplatform.projects.records import ImportRejected
from evalplatform.projects.services import import_items


class Command(BaseCommand):
    help = "Import items (prompts with model responses) from JSONL or CSV, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--format", choices=["jsonl", "csv", "json"], help="default: from the file name")
        parser.add_argument("--update", action="store_true", help="update items whose id already exists")

    def handle(self, *args, file: Path, project: str, format: str | None, update: bool, **options):
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"no project {project!r}", returncode=2)
        try:
            handle = file.open("rb")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}", returncode=2) from exc
        bar = tqdm(desc="records", unit=" rec", disable=not sys.stderr.isatty(), leave=False)
        try:
            with handle:
                summary = import_items(
                    project=target, stream=handle, fmt=format, name=file.name, update=update, progress=bar.update
                )
        except ImportRejected as exc:
            raise CommandError(f"{file}: {exc}\n  " + "\n  ".join(exc.lines()), returncode=2) from exc
        finally:
            bar.close()
        self.stdout.write(f"{file}: {summary}")
