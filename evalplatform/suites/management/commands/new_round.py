"""``manage.py new_round``: the next round of a suite, from the latest one, with new responses."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evalplatform.projects.records import ImportRejected
from evalplatform.suites import services
from evalplatform.suites.models import Suite


class Command(BaseCommand):
    help = ("Create a suite's next round (a new project like the latest round, its members, the new responses "
            "imported, optionally an anchor set of earlier responses to rate again).  All or nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--suite", required=True, help="the suite's slug")
        parser.add_argument("--items", help="JSONL/CSV/JSON file of items with the new responses")
        parser.add_argument("--anchors", type=int, default=0,
                            help="responses of the previous round to rate again (when it has no anchor set yet)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the anchor set's draw")
        parser.add_argument("--slug", default="", help="the new project's slug (default SUITE-round-N)")
        parser.add_argument("--name", default="")
        parser.add_argument("--note", default="", help="what changed in this round")
        parser.add_argument("--create-from", metavar="PROJECT",
                            help="create the suite first, with this project as round 1")

    def handle(self, *args, **options):
        suite = Suite.objects.filter(slug=options["suite"]).first()
        try:
            if suite is None and options["create_from"]:
                from evalplatform.projects.models import Project

                project = Project.objects.filter(slug=options["create_from"]).first()
                if project is None:
                    raise CommandError(f"no project {options['create_from']!r}", returncode=2)
                suite = services.create_suite(slug=options["suite"], project=project)
                self.stdout.write(f"suite {suite.slug}: round 1 is {project.slug}")
            if suite is None:
                raise CommandError(f"no suite {options['suite']!r} (use --create-from PROJECT to make it)", returncode=2)
            if not options["items"]:
                if options["create_from"]:
                    return
                raise CommandError("--items FILE is required", returncode=2)
            path = Path(options["items"])
            if not path.is_file():
                raise CommandError(f"no file {path}", returncode=2)
            with path.open("rb") as handle:
                round_ = services.new_round(
                    suite=suite, stream=handle, filename=path.name, anchors=options["anchors"], seed=options["seed"],
                    slug=options["slug"], name=options["name"], note=options["note"],
                )
        except ImportRejected as exc:
            raise CommandError("nothing was imported:\n" + "\n".join(exc.lines()), returncode=2) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages), returncode=2) from exc
        self.stdout.write(
            f"round {round_.number} of suite {suite.slug}: project {round_.project.slug}, "
            f"{round_.project.items.count()} items, {round_.anchors.count()} anchor responses"
        )
