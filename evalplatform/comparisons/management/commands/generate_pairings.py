from django.core.management.base import BaseCommand, CommandError

from evalplatform.comparisons.services import STRATEGIES, PairingError, generate_pairings
from evalplatform.projects.models import Project


class Command(BaseCommand):
    help = (
        "Make a pairwise project's pair tasks balanced across models: every pair of every item (all), or "
        "--per-item K sampled pairs per item. Tasks raters have started are kept. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="the project's slug")
        parser.add_argument("--strategy", choices=STRATEGIES, help="default: sample with --per-item, else all")
        parser.add_argument("--per-item", type=int, help="pairs per item (the sample strategy)")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    def handle(self, *args, project: str, strategy: str | None, per_item: int | None, seed: int, **options):
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"no project {project!r}", returncode=2)
        strategy = strategy or ("sample" if per_item is not None else "all")
        try:
            summary = generate_pairings(project=target, strategy=strategy, per_item=per_item, seed=seed)
        except PairingError as exc:
            raise CommandError("; ".join(exc.messages), returncode=2) from exc
        self.stdout.write(f"{target.slug}: {summary}")
        for model, n in summary.model_tasks.items():
            self.stdout.write(f"  {model}: {n} tasks, {summary.model_first[model]} as response A")
