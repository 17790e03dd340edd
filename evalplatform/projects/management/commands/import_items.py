import sys
from pathlib import Path

from django.core.management.base import BaseCommand
from tqdm import tqdm

from evalplatform.projects.management.importing import import_file, project_by_slug
from evalplatform.projects.services import import_items


class Command(BaseCommand):
    help = "Import items (prompts with model responses) from JSONL or CSV, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--format", choices=["jsonl", "csv", "json"], help="default: from the file name")
        parser.add_argument("--update", action="store_true", help="update items whose id already exists")

    def handle(self, *args, file: Path, project: str, format: str | None, update: bool, **options):
        target = project_by_slug(project)
        bar = tqdm(desc="records", unit=" rec", disable=not sys.stderr.isatty(), leave=False)
        try:
            with import_file(file) as handle:
                summary = import_items(
                    project=target, stream=handle, fmt=format, name=file.name, update=update, progress=bar.update
                )
        finally:
            bar.close()
        self.stdout.write(f"{file}: {summary}")
