"""``manage.py gate``: does the challenger regress against the champion?  For CI pipelines.

Exit 0: no dimension, composite or subgroup with enough items regresses significantly beyond its
margin; 1: at least one does; 2: bad input or too little data.  The output says why in each case.
"""

import sys

from django.core.management.base import BaseCommand

from evalplatform.suites.models import Suite

#: ``gate.FORMATS``, named here so ``--help`` needn't load the gate and numpy (0.15 s of start-up); a test
#: keeps the two equal.
FORMATS = ("text", "json", "junit", "markdown")


class Command(BaseCommand):
    help = "Champion against challenger on a suite's shared items; exit 0 pass, 1 regression, 2 bad input/too little data."

    def add_arguments(self, parser):
        parser.add_argument("--suite", required=True, help="the suite's slug")
        parser.add_argument("--champion", required=True, help="MODEL, MODEL@ROUND or @ROUND (round number or project slug)")
        parser.add_argument("--challenger", required=True, help="MODEL, MODEL@ROUND or @ROUND")
        parser.add_argument("--dimension", action="append", default=[], help="test only these (repeatable; 'composite' too)")
        parser.add_argument("--margin", action="append", default=[],
                            help="non-inferiority margin in scale points: X for every dimension, DIM=X for one (repeatable)")
        parser.add_argument("--subgroup", action="append", default=None,
                            help="metadata field to test subgroups by (repeatable; default every field with 2-20 values)")
        parser.add_argument("--no-subgroups", action="store_true", help="test the whole item set only")
        parser.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate (Holm over every test)")
        parser.add_argument("--bootstrap", type=int, default=2000, help="resamples for the intervals")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--min-items", type=int, default=10, help="fewest shared items to decide (else exit 2)")
        parser.add_argument("--format", choices=FORMATS, default="text")

    def handle(self, *args, **options):
        from evalplatform.suites import gate

        fmt = options["format"]
        suite = Suite.objects.filter(slug=options["suite"]).first()
        try:
            if suite is None:
                raise gate.GateInputError(f"no suite {options['suite']!r}")
            report = gate.run_gate(
                suite=suite, champion=options["champion"], challenger=options["challenger"],
                dimensions=options["dimension"] or None, margins=options["margin"], alpha=options["alpha"],
                bootstrap=options["bootstrap"], seed=options["seed"], min_items=options["min_items"],
                subgroups=[] if options["no_subgroups"] else options["subgroup"],
            )
        except gate.GateInputError as exc:
            self.stdout.write(gate.error_output(str(exc), fmt), ending="")
            sys.exit(2)
        self.stdout.write(gate.render(report, fmt), ending="")
        if report.exit_code:
            sys.exit(report.exit_code)
