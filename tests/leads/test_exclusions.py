"""Removing a rater's work: a lead excludes a rater's ratings (all, from a date, or those that failed
gold), reversibly and on the record; the tasks reopen so the queue tops them up; progress, reports and
exports count only what is included; pausing alone keeps its meaning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evalplatform.assignments.selectors import project_progress
from evalplatform.projects.models import Membership, Task
from evalplatform.quality.services import set_gold
from evalplatform.ratings import exports
from evalplatform.ratings.models import RaterExclusion, Rating
from evalplatform.ratings.services import ExclusionError, exclude_ratings, restore_ratings, submit_rating
from evalplatform.reports.services import compute, create_report
from tests.assignments.invariants import assert_queue_invariants
from tests.fixtures import GOOD, next_assignment
from tests.quality.conftest import rate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_report_refresh")]


def member(project, name):
    return Membership.objects.get(project=project, user__username=name).user


def work_through(project, rater, scores=GOOD) -> int:
    """The rater rates everything the queue serves them; returns how many."""
    n = 0
    while (a := next_assignment(project=project, rater=rater)) is not None:
        submit_rating(assignment=a, scores=scores)
        n += 1
    return n


@pytest.fixture
def full(make_project):
    project = make_project("full", items=5, overlap=3, raters=("alice", "bob", "spam", "dave"))
    for name in ("alice", "bob", "spam"):
        assert work_through(project, member(project, name), {**GOOD, "accuracy": 1 if name == "spam" else 4}) == 5
    return project


def test_excluding_all_reopens_the_tasks_and_the_queue_tops_them_up(full, lead):
    assert project_progress(full).tasks_complete == 5
    spam = member(full, "spam")
    exclusion = exclude_ratings(project=full, rater=spam, scope="all", reason="clicks through", by=lead)
    assert (exclusion.created_by, exclusion.reason, exclusion.n_ratings) == (lead, "clicks through", 5)
    assert exclusion.created_at is not None
    assert exclusion.revoked_at is None
    assert Rating.objects.filter(rater=spam, exclusion=exclusion).count() == 5
    assert set(Task.objects.filter(project=full).values_list("rated_count", "claimed_count")) == {(2, 2)}
    progress = project_progress(full)
    assert (progress.tasks_complete, progress.ratings) == (0, 10)
    assert Membership.objects.get(project=full, user=spam).paused  # no new work for them either
    assert_queue_invariants(full)
    # The queue tops the tasks up: dave gets every one of them, and the project is complete again.
    assert work_through(full, member(full, "dave")) == 5
    assert project_progress(full).tasks_complete == 5
    assert next_assignment(project=full, rater=member(full, "alice")) is None  # never twice to one rater
    assert_queue_invariants(full)


def test_restoring_counts_the_ratings_again_even_after_a_top_up(full, lead, admin_user):
    spam = member(full, "spam")
    exclusion = exclude_ratings(project=full, rater=spam, scope="all", reason="spam?", by=lead)
    work_through(full, member(full, "dave"))
    restored = restore_ratings(exclusion=exclusion, by=admin_user)
    assert restored.revoked_by == admin_user
    assert restored.revoked_at is not None
    assert not Rating.objects.filter(rater=spam, exclusion__isnull=False).exists()
    # Four included ratings on each task now: the task's capacity grows to hold them, nothing is lost.
    assert set(Task.objects.filter(project=full).values_list("rated_count", "claimed_count", "capacity")) == {(4, 4, 4)}
    assert RaterExclusion.objects.get(pk=exclusion.pk).revoked_at is not None  # the record stays
    with pytest.raises(ExclusionError, match="already"):
        restore_ratings(exclusion=exclusion, by=lead)


def test_excluding_from_a_date_keeps_the_earlier_ratings(full, lead):
    spam = member(full, "spam")
    ratings = list(Rating.objects.filter(rater=spam).order_by("id"))
    day = timezone.now() - timedelta(days=3)
    for i, rating in enumerate(ratings):
        Rating.objects.filter(pk=rating.pk).update(created_at=day + timedelta(days=1 if i >= 3 else -1))
    exclusion = exclude_ratings(project=full, rater=spam, scope="since", since=day, reason="went bad", by=lead)
    assert exclusion.n_ratings == 2
    assert set(Rating.objects.filter(rater=spam, exclusion__isnull=True).values_list("pk", flat=True)) == {
        r.pk for r in ratings[:3]}
    assert sorted(Task.objects.filter(project=full).values_list("rated_count", flat=True)) == [2, 2, 3, 3, 3]
    with pytest.raises(ExclusionError, match="date"):
        exclude_ratings(project=full, rater=spam, scope="since", reason="no date", by=lead)


def test_excluding_failed_gold_leaves_the_passed_gold_and_ordinary_ratings(make_project, lead):
    project = make_project("gold", items=4, overlap=2, raters=("alice", "bob"))
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    for task in tasks[:2]:
        set_gold(task=task, expectations={"accuracy": 4})
    alice = member(project, "alice")
    failed = rate(tasks[0], alice, {**GOOD, "accuracy": 1})
    passed = rate(tasks[1], alice, {**GOOD, "accuracy": 4})
    ordinary = rate(tasks[2], alice, {**GOOD, "accuracy": 1})
    exclusion = exclude_ratings(project=project, rater=alice, scope="failed_gold", reason="missed gold", by=lead)
    assert exclusion.n_ratings == 1
    assert list(Rating.objects.filter(exclusion__isnull=False).values_list("pk", flat=True)) == [failed.pk]
    assert Rating.objects.filter(pk__in=[passed.pk, ordinary.pk], exclusion__isnull=True).count() == 2
    assert not Membership.objects.get(project=project, user=alice).paused  # only their failed checks go


def test_exclusion_needs_a_reason_and_a_rater_of_the_project(full, lead, make_project):
    spam = member(full, "spam")
    with pytest.raises(ExclusionError, match="reason"):
        exclude_ratings(project=full, rater=spam, scope="all", reason="  ", by=lead)
    with pytest.raises(ExclusionError, match="scope"):
        exclude_ratings(project=full, rater=spam, scope="some", reason="x", by=lead)
    other = make_project("other", items=1, raters=("zed",))
    with pytest.raises(ExclusionError, match="no ratings"):
        exclude_ratings(project=full, rater=member(other, "zed"), scope="all", reason="x", by=lead)
    assert not RaterExclusion.objects.exists()
    assert not Rating.objects.filter(exclusion__isnull=False).exists()


def test_reports_and_exports_count_only_included_ratings(rated_project, lead):
    project = rated_project()
    before = compute(report_id=create_report(project=project, bootstrap=0).pk)
    carol = member(project, "carol")
    exclude_ratings(project=project, rater=carol, scope="all", reason="bias", by=lead)
    after = compute(report_id=create_report(project=project, bootstrap=0).pk)
    assert after.n_ratings == before.n_ratings - Rating.objects.filter(rater=carol).count()
    assert "carol" not in {r["rater"] for r in after.result["raters"]}
    csv_text = "".join(exports.export_lines(project, "csv"))
    assert "carol" not in csv_text
    everything = exports.export_options(project, include_excluded=True)
    assert "carol" in "".join(exports.export_lines(project, "csv", options=everything))


def test_pausing_alone_keeps_the_ratings_counted(full, lead):
    from evalplatform.projects.services import set_paused

    spam = member(full, "spam")
    set_paused(project=full, user=spam, paused=True)
    assert project_progress(full).tasks_complete == 5
    assert not Rating.objects.filter(exclusion__isnull=False).exists()
    report = compute(report_id=create_report(project=full, bootstrap=0).pk)
    assert report.n_ratings == 15  # include_paused stays the default


def test_exclusion_api_for_leads_only(full, lead, client_for):
    url = f"/api/projects/{full.pk}/exclusions/"
    body = {"rater": "spam", "scope": "all", "reason": "spammer"}
    assert client_for(member(full, "alice")).post(url, body, format="json").status_code == 403
    bad = client_for(lead).post(url, {**body, "reason": ""}, format="json")
    assert bad.status_code == 400
    assert "reason" in bad.json()
    unknown = client_for(lead).post(url, {**body, "rater": "nobody"}, format="json")
    assert unknown.status_code == 400
    assert "rater" in unknown.json()
    created = client_for(lead).post(url, body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["rater"] == "spam"
    assert data["created_by"] == "lead"
    assert data["n_ratings"] == 5
    listed = client_for(lead).get(url).json()
    assert [e["id"] for e in listed["results"]] == [data["id"]]
    restored = client_for(lead).post(f"/api/exclusions/{data['id']}/restore/", format="json")
    assert restored.status_code == 200
    assert restored.json()["revoked_by"] == "lead"
    assert client_for(lead).post(f"/api/exclusions/{data['id']}/restore/", format="json").status_code == 409
    assert client_for(member(full, "alice")).post(f"/api/exclusions/{data['id']}/restore/").status_code in (403, 404)
