"""A project rated by the synthetic panel of five, with three automated judges imported beside it."""

from __future__ import annotations

import io
import json

import pytest

from evalplatform.ratings.importing import import_ratings
from rubrics.services import import_rubric
from tests.judges.synthetic import HUMANS, long_rows, panel

QUALITY_RUBRIC = {
    "slug": "quality-only",
    "name": "Quality",
    "dimensions": [
        {"key": "quality", "label": "Quality", "kind": "likert", "level": "ordinal", "min": 1, "max": 5},
        {"key": "notes", "kind": "text", "required": False},
    ],
}
N_UNITS = 40


def jsonl(rows: list[dict]) -> io.BytesIO:
    return io.BytesIO(("\n".join(json.dumps(r) for r in rows) + "\n").encode())


@pytest.fixture
def quality_version(db):
    version, _ = import_rubric(data=QUALITY_RUBRIC)
    return version


@pytest.fixture
def calibrated_project(make_project, quality_version):
    """Forty items, overlap five: every item rated by the panel, and by judge:copy, :random and :high."""
    project = make_project("calibrated", items=N_UNITS, overlap=len(HUMANS), raters=HUMANS, version=quality_version)
    humans, judges = panel(N_UNITS)
    import_ratings(project=project, stream=jsonl(long_rows(dict(zip(HUMANS, humans, strict=True)))), fmt="jsonl", create_raters=True)
    import_ratings(project=project, stream=jsonl(long_rows(judges)), fmt="jsonl", automated=True)
    return project
