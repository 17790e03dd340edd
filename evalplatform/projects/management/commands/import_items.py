import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from evalplatform.dispatch import runner
from evalplatform.projects.management.importing import import_file, project_by_slug
from evalplatform.projects.services import import_items


class Command(BaseCommand):
    help = "Import items (prompts with model responses) from JSONL or CSV, all or nothing."
    # A data command: Django's system checks (``manage.py check``, ``runserver``, ``migrate`` run them) would
    # load every URLconf, view and admin first, about a second of start-up for a few-second command.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--format", choices=["jsonl", "csv", "json"], help="default: from the file name")
        parser.add_argument("--update", action="store_true", help="update items whose id already exists")

    def handle(self, *args, file: Path, project: str, format: str | None, update: bool, **options):
        from tqdm import tqdm  # only a run needs the progress bar, not --help

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
        touched = summary.items_created + summary.items_updated
        if touched and runner() != "celery" and target.items.exclude(reference="").exists():
            # The import asked for the reference metrics to be scored after commit; with no worker that runs
            # in a thread of this process, which ends now.  Say how to get them rather than lose them quietly.
            self.stdout.write(
                "reference answers imported: their metrics (ROUGE, BLEU, chrF) are scored by a worker; with no "
                f"worker running, run `manage.py score_references --project {target.slug}` (or the next report "
                "scores them)"
            )
