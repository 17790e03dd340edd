"""The fast ratings CSV (``ratings.csv_export``) writes the very bytes the row-by-row export wrote.

The reference is the previous implementation, still in the code (the JSONL export and the tests use
its rows): ``csv_lines(header, _metadata_as_text(header, rating_rows(project, options)))``.  The data
set is fixed and holds what could tell them apart: left-out ratings of each kind (gold, paused,
automated, excluded) between included ones, texts a spreadsheet would run as formulas, quotes, commas
and line breaks in cells, non-ASCII metadata, free-text answers, a pair's per-response questions.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.management import call_command

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Item, Membership, Task
from evalplatform.quality.services import set_gold
from evalplatform.ratings import exports
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import exclude_ratings, submit_rating
from rubrics.services import import_rubric
from tests.fixtures import next_assignment
from tests.reports.conftest import rating_records

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_report_refresh")]

TRICKY = ["=HYPERLINK(\"http://x\")", "-2", "+cmd", "@sum", "\tlead", "a,b", 'say "hi"', "two\nlines", "\uff1d1+1",
          "plain", "", " =1"]


def reference_csv(project, options) -> str:
    header = exports.rating_columns(project, with_text=options.with_text)
    rows = exports._metadata_as_text(header, exports.rating_rows(project, options))
    return "".join(exports.csv_lines(header, rows))


def fast_csv(project, options) -> str:
    return "".join(exports.export_lines(project, "csv", options=options))


def assert_same_bytes(project) -> None:
    seen = 0
    for given in ({}, {"include_gold": True, "include_paused": False, "include_automated": True,
                       "include_excluded": True}, {"with_text": True, "include_excluded": True}):
        options = exports.export_options(project, **given)
        expected = reference_csv(project, options)
        assert fast_csv(project, options) == expected, given
        seen += expected.count("\n")
    assert seen > 40  # the data set is not empty


@pytest.fixture
def single(rated_project, lead):
    project = rated_project("bytes", raters=("alice", "bob", "carol", "dan"), items=6, models=("m1", "m2"))
    records = rating_records(project, ["judge:fast"], seed=5)
    data = "\n".join(json.dumps(r) for r in records) + "\n"
    import_ratings(project=project, stream=io.BytesIO(data.encode()), fmt="jsonl", automated=True)
    set_gold(task=Task.objects.filter(project=project).order_by("id")[2], expectations={"accuracy": 4})
    Membership.objects.filter(project=project, user__username="dan").update(paused=True)
    carol = Membership.objects.get(project=project, user__username="carol").user
    exclude_ratings(project=project, rater=carol, scope="all", reason="bias", by=lead, pause=False)
    for n, item in enumerate(Item.objects.filter(project=project).order_by("id")):
        Item.objects.filter(pk=item.pk).update(
            reference=TRICKY[n % len(TRICKY)],
            metadata={"topic": TRICKY[(n + 3) % len(TRICKY)], "langue": "français, \"ü\"", "n": n, "ok": n % 2 == 0},
        )
    for n, rating in enumerate(Rating.objects.filter(project=project).order_by("id")):
        # Times the database gives as text: a whole second (no fraction in ISO), a fraction with trailing
        # zeros, one given in another zone (a different UTC date), a year before 1000, the time of saving.
        created = [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 100000, tzinfo=UTC),
                   datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
                   datetime(999, 1, 1, 0, 0, 0, 5, tzinfo=UTC), rating.created_at][n % 5]
        Rating.objects.filter(pk=rating.pk).update(
            justification=TRICKY[n % len(TRICKY)], duration_ms=None if n % 5 == 0 else rating.duration_ms,
            created_at=created,
        )
    return project


def test_the_ratings_csv_is_byte_for_byte_the_row_by_row_export(single):
    assert_same_bytes(single)


def test_the_command_writes_those_bytes_to_a_file(single, tmp_path):
    target = tmp_path / "ratings.csv"
    call_command("export", "--project", single.slug, "--format", "csv", "--output", str(target), "--include-all",
                 stderr=io.StringIO())
    options = exports.export_options(single, include_gold=True, include_paused=True, include_automated=True,
                                     include_excluded=True)
    assert target.read_bytes() == reference_csv(single, options).encode()


DUEL = {
    "slug": "duel-bytes",
    "name": "Preference, accuracy per response and notes",
    "dimensions": [
        {"key": "preference", "kind": "pairwise", "points": 5},
        {"key": "accuracy", "kind": "likert", "min": 1, "max": 5},
        {"key": "notes", "kind": "text", "required": False},
    ],
}


def test_a_pairwise_project_with_free_text_gives_the_same_bytes(make_project):
    version, _ = import_rubric(data=DUEL)
    project = make_project("duel-bytes", kind="pairwise", version=version, items=3, models=("m1", "m2", "m3"),
                           overlap=2, raters=("alice", "bob"))
    for n in range(12):
        rater = project.memberships.filter(role="rater").order_by("id")[n % 2].user
        held = next_assignment(project=project, rater=rater)
        if held is None:
            continue
        Assignment.objects.filter(pk=held.pk).update(swapped=n % 3 == 0)
        held.refresh_from_db()
        scores = {"preference": n % 5 - 2, "accuracy.a": 1 + n % 5, "accuracy.b": 5 - n % 4}
        if n % 2:
            scores["notes"] = TRICKY[n % len(TRICKY)] or "fine"
        submit_rating(assignment=held, scores=scores)
    assert Rating.objects.filter(project=project).count() >= 8
    for options in (exports.export_options(project), exports.export_options(project, with_text=True)):
        expected = reference_csv(project, options)
        assert expected.count("\n") > 20
        assert fast_csv(project, options) == expected


@pytest.fixture
def database_in_paris():
    """The database's connection set to keep times in Paris time (``DATABASES[...]["TIME_ZONE"]``)."""
    from django.db import connections

    connection = connections["default"]  # the wrapper itself: its cached properties are in its __dict__

    def use(zone):
        connection.settings_dict["TIME_ZONE"] = zone
        for cached in ("timezone", "timezone_name"):
            connection.__dict__.pop(cached, None)
        connection.ensure_timezone()  # PostgreSQL: the session's own time zone

    before = connection.settings_dict.get("TIME_ZONE")
    use("Europe/Paris")
    try:
        yield
    finally:
        use(before)


def test_a_database_keeping_another_time_zone_gives_the_same_bytes(single, database_in_paris):
    """The times come as UTC text from the database only where it keeps them in UTC; a database set to
    another zone (SQLite then stores local times) is read as Django reads it."""
    from evalplatform.ratings.csv_export import _times_as_utc_text

    assert not _times_as_utc_text()
    assert_same_bytes(single)


def test_dimensions_whose_positions_run_against_their_ids_give_the_same_bytes(single):
    """The scores are read in index order (rating, dimension id) only while every version's dimension
    ids follow their positions; a version whose dimensions were reordered is read in position order."""
    from evalplatform.ratings.csv_export import _score_order
    from rubrics import scales
    from rubrics.models import Dimension

    assert "dimension__position" not in _score_order(single)  # dimensions made in order: the index's order
    dimensions = list(Dimension.objects.filter(version_id=single.rubric_version_id).order_by("id"))
    assert len(dimensions) >= 3
    for position, dimension in enumerate(reversed(dimensions)):
        Dimension.objects.filter(pk=dimension.pk).update(position=position)
    scales._cache.clear()  # the published version's scales, compiled in the old order
    try:
        assert "dimension__position" in _score_order(single)
        assert_same_bytes(single)
    finally:
        scales._cache.clear()
