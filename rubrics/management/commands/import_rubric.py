from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from rubrics.documents import RubricDocumentError, parse_text
from rubrics.services import import_rubric


class Command(BaseCommand):
    help = "Publish a rubric from a JSON or YAML file as a new version (unchanged files publish nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}", returncode=2) from exc
        try:
            version, created = import_rubric(data=parse_text(text, filename=file.name))
        except RubricDocumentError as exc:
            raise CommandError(
                f"{file}: the rubric was not imported:\n  " + "\n  ".join(exc.errors), returncode=2
            ) from exc
        verb = "published" if created else "is unchanged; latest published version is"
        self.stdout.write(f"rubric {version.rubric.slug} {verb} v{version.number}")
