from django.core.management.base import BaseCommand, CommandError

from rubrics.documents import dump, to_document
from rubrics.models import RubricVersion


class Command(BaseCommand):
    help = "Print a rubric version as JSON or YAML (the latest published one unless --version is given)."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version means the rubric version here, as documented; it replaces Django's own --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--version", type=int, dest="number", help="the rubric version number")
        parser.add_argument("--format", choices=["json", "yaml"], default="json")

    def handle(self, *args, slug: str, number: int | None, format: str, **options):
        versions = RubricVersion.objects.filter(rubric__slug=slug).select_related("rubric")
        if number is not None:
            version = versions.filter(number=number).first()
        else:
            version = versions.filter(status=RubricVersion.Status.PUBLISHED).order_by("-number").first()
        if version is None:
            which = f"version {number}" if number is not None else "a published version"
            raise CommandError(f"rubric {slug!r} has no {which}", returncode=2)
        self.stdout.write(dump(to_document(version), format), ending="")
