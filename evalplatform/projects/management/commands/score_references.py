from django.core.management.base import BaseCommand

from evalplatform.projects.management.importing import project_by_slug


class Command(BaseCommand):
    help = ("Score every response of a project against its item's reference (ROUGE-1/2/L, BLEU, chrF) and "
            "store the scores; what a worker does after an import. Idempotent: current scores are kept.")
    requires_system_checks: list[str] = []  # a data command: see import_items

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="the project's slug")

    def handle(self, *args, project: str, **options):
        from evalplatform.projects.references import score_missing

        target = project_by_slug(project)
        scored = score_missing(project_id=target.pk)
        self.stdout.write(f"project {target.slug}: {scored} response{'s' if scored != 1 else ''} scored against "
                          "their references (the rest were current)")
