#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

#: Django's own options: with any of them, ``agreement`` goes through Django like every command.
DJANGO_OPTIONS = ("--settings", "--pythonpath", "--traceback", "--verbosity", "-v", "--no-color", "--force-color",
                  "--skip-checks")


def engine_only(argv: list[str]) -> bool:
    """``manage.py agreement FILE ...`` needs no Django (no database, no apps): the statistics engine's
    own command line (``python -m evalplatform.stats``) runs it, without Django's start-up."""
    return len(argv) > 1 and argv[1] == "agreement" and not any(a.split("=")[0] in DJANGO_OPTIONS for a in argv[2:])


def main() -> None:
    if engine_only(sys.argv):
        from evalplatform.stats.cli import main as agreement

        try:
            sys.exit(agreement(sys.argv[2:], prog="manage.py agreement"))
        except MemoryError:
            sys.stderr.write("error: not enough memory for `agreement` on this data\n")
            sys.exit(1)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except MemoryError:
        # One clear line instead of a traceback (a command that runs out of memory at a team's size).
        sys.stderr.write(f"error: not enough memory for `{' '.join(sys.argv[1:2])}` on this data\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
