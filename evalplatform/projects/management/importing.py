"""What the import commands share: the project by slug, the file opened, a refused file reported.

Every failure is a ``CommandError`` with exit status 2 and, for a refused file, every problem by
line and field (the same list the API answers with 400).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.core.management.base import CommandError

from evalplatform.projects.models import Project
from evalplatform.projects.records import ImportRejected


def project_by_slug(slug: str) -> Project:
    """The project named ``slug``, or exit 2."""
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        raise CommandError(f"no project {slug!r}", returncode=2)
    return project


@contextmanager
def import_file(file: Path) -> Iterator[IO[bytes]]:
    """``file`` opened for an importer; exit 2 if it cannot be read or the importer refuses it."""
    try:
        handle = file.open("rb")
    except OSError as exc:
        raise CommandError(f"cannot read {file}: {exc}", returncode=2) from exc
    try:
        with handle:
            yield handle
    except ImportRejected as exc:
        raise CommandError(f"{file}: {exc}\n  " + "\n  ".join(exc.lines()), returncode=2) from exc
