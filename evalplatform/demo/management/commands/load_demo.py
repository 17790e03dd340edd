import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from evalplatform.demo.head_to_head import PROJECT_SLUG as HEAD_TO_HEAD
from evalplatform.demo.loader import ACCOUNTS, load_demo
from evalplatform.demo.rounds import ROUND_2
from evalplatform.projects.models import Project
from evalplatform.reports.services import refresh


class Command(BaseCommand):
    help = "Load the demo project (support tickets, three models, a panel of three raters). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true",
            help="load it even with DEBUG=0 (the demo's accounts, an admin among them, have published passwords)",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            # The demo creates an admin and raters whose passwords are in the code and printed below:
            # on a production server they would be a way in for anyone who has read them.
            raise CommandError(
                "refusing to load the demo with DEBUG=0: its accounts (an admin among them) have published "
                "passwords. Use --force on a server that is not reachable by anyone else.", returncode=2,
            )
        project, created = load_demo()
        # Compute now (and clear the refresh the imported ratings scheduled), so the lead's first
        # look shows figures, not "queued"; a no-op when the stored report is current.
        refresh(project_id=project.pk)
        for slug in (HEAD_TO_HEAD, ROUND_2):
            other = Project.objects.filter(slug=slug).first()
            if other is not None:
                refresh(project_id=other.pk)
        port = os.environ.get("PORT", "8000")
        state = "loaded" if created else "already loaded"
        self.stdout.write(f"Demo project '{project.name}' {state}.")
        self.stdout.write(f"Open http://127.0.0.1:{port}/ and log in as one of:")
        for account in ACCOUNTS:
            self.stdout.write(f"  {account.role:<6} {account.username:<6} password: {account.password}")
