"""After a large bulk write PostgreSQL's planner statistics are refreshed once it has committed
(``bulk.refresh_statistics``): the report an import schedules must not be planned as if the tables
were still empty, and a rolled-back import must not leave its row counts to the planner."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evalplatform import bulk
from evalplatform.projects.records import ImportRejected
from evalplatform.quality.services import compute_quality
from evalplatform.ratings.importing import import_ratings
from tests.ratings.test_import_ratings import _jsonl, rows

pytestmark = pytest.mark.django_db


def analyzed(queries) -> list[str]:
    return sorted(q["sql"].split()[1].strip('"') for q in queries if q["sql"].startswith("ANALYZE"))


@pytest.mark.postgres
def test_a_large_ratings_import_analyzes_the_tables_it_wrote_after_commit(
        project, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(bulk, "ANALYZE_AFTER", 6)
    with CaptureQueriesContext(connection) as queries:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            import_ratings(project=project, stream=_jsonl(rows() + rows(rater="bob")), fmt="jsonl")
        assert analyzed(queries) == []  # nothing inside the import's transaction
        for callback in callbacks:
            callback()
    assert analyzed(queries) == ["assignments_assignment", "projects_task", "ratings_rating", "ratings_score"]
    with connection.cursor() as cursor:  # the statistics are there
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'ratings_score' AND attname = 'value'")
        assert cursor.fetchone()[0] == 1


@pytest.mark.postgres
def test_a_large_items_import_and_label_store_analyze_too(make_project, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(bulk, "ANALYZE_AFTER", 4)
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        project = make_project(items=4, raters=("alice", "bob"))
    assert analyzed(queries) == ["projects_item", "projects_response", "projects_task"]
    import_ratings(project=project, stream=_jsonl(
        [r for n in range(1, 5) for who in ("alice", "bob") for r in rows(item=f"t-{n:04d}", rater=who)]), fmt="jsonl")
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        compute_quality(project=project)
    assert analyzed(queries) == ["quality_consensuslabel"]


@pytest.mark.postgres
def test_a_table_another_session_holds_is_left_to_autovacuum(monkeypatch, caplog):
    """An ANALYZE that cannot have its table within the lock timeout gives up with a log line."""
    import psycopg
    from django.db import OperationalError

    monkeypatch.setattr(bulk, "ANALYZE_LOCK_TIMEOUT", "50ms")
    settings = connection.settings_dict
    other = psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"],
                            port=settings["PORT"] or 5432, password=settings["PASSWORD"] or None)
    try:
        other.execute("BEGIN")
        other.execute("LOCK TABLE ratings_score IN SHARE UPDATE EXCLUSIVE MODE")  # what ANALYZE takes
        with caplog.at_level("INFO", logger="evalplatform.bulk"):
            bulk._analyze(["ratings_score"])  # no OperationalError escapes
        assert "statistics of ratings_score left to autovacuum" in caplog.text
    except OperationalError:  # pragma: no cover - the failure this test is about
        pytest.fail("the lock timeout escaped")
    finally:
        other.rollback()
        other.close()


def test_a_rejected_import_and_small_writes_analyze_nothing(project, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(bulk, "ANALYZE_AFTER", 1)
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(ImportRejected):
            import_ratings(project=project, stream=_jsonl(rows(item="no-such-item")), fmt="jsonl")
    assert analyzed(queries) == []
    monkeypatch.setattr(bulk, "ANALYZE_AFTER", 10_000)
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        import_ratings(project=project, stream=_jsonl(rows() + rows(rater="bob")), fmt="jsonl")
    assert analyzed(queries) == []
