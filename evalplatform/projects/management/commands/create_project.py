from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evalplatform.projects.services import create_project
from rubrics.models import RubricVersion


class Command(BaseCommand):
    help = "Create a project on a rubric's latest published version (or --version N)."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version means the rubric version here, as documented; it replaces Django's own --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--rubric", required=True, help="the rubric's slug")
        parser.add_argument("--version", type=int, dest="number", help="the rubric version number")
        parser.add_argument("--overlap", type=int, default=3, help="raters per task (default 3)")
        parser.add_argument("--kind", choices=["single", "pairwise"], default="single")
        parser.add_argument("--name", default="")
        parser.add_argument("--lease", type=int, default=1800, help="lease length in seconds (default 1800)")
        parser.add_argument("--order", choices=["priority", "random"], default="priority")

    def handle(self, *args, slug, rubric, number, overlap, kind, name, lease, order, **options):
        versions = RubricVersion.objects.filter(rubric__slug=rubric, status=RubricVersion.Status.PUBLISHED)
        version = versions.filter(number=number).first() if number else versions.order_by("-number").first()
        if version is None:
            which = f"a published version {number}" if number else "a published version"
            raise CommandError(f"rubric {rubric!r} has no {which}", returncode=2)
        try:
            project = create_project(
                slug=slug, name=name, rubric_version=version, overlap=overlap, kind=kind, lease_seconds=lease,
                order=order,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages), returncode=2) from exc
        self.stdout.write(f"project {project.slug} created on {version} with overlap {overlap}")
