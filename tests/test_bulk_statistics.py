"""After a large bulk write PostgreSQL's planner statistics are refreshed at once (``bulk.refresh_statistics``):
the report an import schedules must not be planned as if the tables were still empty."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evalplatform import bulk
from evalplatform.quality.services import compute_quality
from evalplatform.ratings.importing import import_ratings
from tests.ratings.test_import_ratings import _jsonl, rows

pytestmark = pytest.mark.django_db


def analyzed(queries) -> list[str]:
    return sorted(q["sql"].split()[1].strip('"') for q in queries if q["sql"].startswith("ANALYZE"))


@pytest.mark.postgres
def test_a_large_ratings_import_analyzes_the_tables_it_wrote(project, monkeypatch):
    monkeypatch.setattr(bulk, "ANALYZE_AFTER", 6)
    with CaptureQueriesContext(connection) as queries:
        import_ratings(project=project, stream=_jsonl(rows() + rows(rater="bob")), fmt="jsonl")
    assert analyzed(queries) == ["assignments_assignment", "projects_task", "ratings_rating", "ratings_score"]
    with connection.cursor() as cursor:  # the statistics are there, for the rest of this transaction and after
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'ratings_score' AND attname = 'value'")
        assert cursor.fetchone()[0] == 1


@pytest.mark.postgres
def test_a_large_items_import_and_label_store_analyze_too(make_project, monkeypatch):
    monkeypatch.setattr(bulk, "ANALYZE_AFTER", 4)
    with CaptureQueriesContext(connection) as queries:
        project = make_project(items=4, raters=("alice", "bob"))
    assert analyzed(queries) == ["projects_item", "projects_response", "projects_task"]
    import_ratings(project=project, stream=_jsonl(
        [r for n in range(1, 5) for who in ("alice", "bob") for r in rows(item=f"t-{n:04d}", rater=who)]), fmt="jsonl")
    with CaptureQueriesContext(connection) as queries:
        compute_quality(project=project)
    assert analyzed(queries) == ["quality_consensuslabel"]


def test_small_writes_and_sqlite_leave_the_statistics_to_the_database(project):
    with CaptureQueriesContext(connection) as queries:
        import_ratings(project=project, stream=_jsonl(rows() + rows(rater="bob")), fmt="jsonl")
    assert analyzed(queries) == []
