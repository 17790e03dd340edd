"""The lead's pages: creating a project in the browser, the dashboard, members and pausing."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from evalplatform.assignments.services import skip
from evalplatform.projects.models import Item, Membership, Project, Task
from evalplatform.projects.views import bar_chart
from evalplatform.ratings.models import Rating
from evalplatform.ratings.services import submit_rating
from evalplatform.reports.models import AgreementReport
from rubrics.documents import validate
from rubrics.services import create_draft
from tests.fixtures import RUBRIC, UserFactory, items_jsonl, next_assignment

pytestmark = pytest.mark.django_db
GOOD = {"accuracy": 4, "helpfulness": 3, "harmless": 1}


def client_for(u) -> Client:
    c = Client()
    c.force_login(u)
    return c


def rater(project, name):
    return project.memberships.get(user__username=name).user


def dashboard(project):
    return reverse("project-dashboard", args=[project.slug])


def new_project_data(version, **extra):
    return {
        "name": "Tickets", "slug": "tickets", "rubric_version": version.pk, "kind": "single",
        "overlap": "2", "lease_minutes": "20", "order": "priority", "show_reference": "on", **extra,
    }


# --- Creating a project ----------------------------------------------------------------------


def test_a_lead_creates_a_project_with_items_in_the_browser(project, lead, rubric_version):
    c = client_for(lead)
    page = c.get(reverse("project-new"))
    assert page.status_code == 200
    assert "Support quality — version 1" in page.content.decode()
    upload = SimpleUploadedFile("items.jsonl", items_jsonl(4), content_type="application/x-ndjson")
    response = c.post(reverse("project-new"), new_project_data(rubric_version, items=upload))
    assert response.status_code == 302
    assert response.url == reverse("project-dashboard", args=["tickets"])
    created = Project.objects.get(slug="tickets")
    assert created.overlap == 2
    assert created.lease_seconds == 1200
    assert created.created_by == lead
    assert created.items.count() == 4
    assert Task.objects.filter(project=created).count() == 4
    assert Membership.objects.get(project=created, user=lead).role == Membership.Role.LEAD
    assert "4 items created" in c.get(response.url).content.decode()


def test_a_bad_items_file_shows_line_numbered_errors_and_writes_nothing(lead, project, rubric_version):
    bad = items_jsonl(2) + b'{"id": "t-0003", "prompt": ""}\nnot json\n'
    before = (Project.objects.count(), Item.objects.count(), Membership.objects.count())
    response = client_for(lead).post(
        reverse("project-new"), new_project_data(rubric_version, items=SimpleUploadedFile("items.jsonl", bad))
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "line 3: prompt: required" in html
    assert "line 4: invalid JSON" in html
    assert "nothing was created" in html
    assert (Project.objects.count(), Item.objects.count(), Membership.objects.count()) == before
    assert not Project.objects.filter(slug="tickets").exists()


def test_project_rules_are_reported_on_the_form(lead, project, rubric_version):
    c = client_for(lead)
    taken = c.post(reverse("project-new"), new_project_data(rubric_version, slug=project.slug))
    assert taken.status_code == 400
    assert "already exists" in taken.content.decode()
    pairwise = c.post(reverse("project-new"), new_project_data(rubric_version, kind="pairwise"))
    assert pairwise.status_code == 400
    assert "pairwise preference dimension" in pairwise.content.decode()
    shape = c.post(reverse("project-new"), new_project_data(rubric_version, overlap="0", slug="Not A Slug"))
    assert shape.status_code == 400
    assert set(shape.context["form"].errors) == {"overlap", "slug"}
    assert Project.objects.count() == 1


def test_only_published_rubric_versions_are_offered(lead, project, rubric_version):
    draft = create_draft(spec=validate({**RUBRIC, "slug": "draft-only", "name": "Draft only"}))
    c = client_for(lead)
    assert "Draft only" not in c.get(reverse("project-new")).content.decode()
    response = c.post(reverse("project-new"), new_project_data(rubric_version, rubric_version=draft.pk))
    assert response.status_code == 400
    assert "rubric_version" in response.context["form"].errors


def test_who_may_create_projects(project, lead, admin_user, rubric_version):
    plain = UserFactory(username="plain")
    assert client_for(plain).get(reverse("project-new")).status_code == 403
    assert client_for(rater(project, "alice")).post(
        reverse("project-new"), new_project_data(rubric_version)
    ).status_code == 403
    assert client_for(admin_user).get(reverse("project-new")).status_code == 200
    assert client_for(lead).get(reverse("project-new")).status_code == 200
    plain.user_permissions.add(Permission.objects.get(codename="add_project"))
    assert client_for(plain).get(reverse("project-new")).status_code == 200
    assert not Project.objects.filter(slug="tickets").exists()


# --- The dashboard ---------------------------------------------------------------------------


def test_dashboard_shows_completion_raters_and_throughput(project, lead):
    alice, bob = rater(project, "alice"), rater(project, "bob")
    for _ in range(2):
        submit_rating(assignment=next_assignment(project=project, rater=alice), scores=GOOD, duration_ms=4000)
    skip(assignment=next_assignment(project=project, rater=bob), reason="dull")
    next_assignment(project=project, rater=bob)
    Rating.objects.filter(rater=alice).order_by("id").filter(
        pk=Rating.objects.filter(rater=alice).order_by("id").first().pk
    ).update(created_at=timezone.now() - timedelta(days=3))
    response = client_for(lead).get(dashboard(project))
    assert response.status_code == 200
    progress = response.context["progress"]
    assert (progress.tasks, progress.ratings, progress.needed, progress.leased, progress.skipped) == (5, 2, 15, 1, 1)
    assert progress.percent == 13
    rows = {row.username: row for row in response.context["raters"]}
    assert rows["alice"].ratings == 2
    assert rows["alice"].today == 1
    assert rows["alice"].avg_seconds == 4.0
    assert rows["bob"].skipped == 1
    assert rows["bob"].holding == 1
    assert rows["carol"].ratings == 0
    assert "lead" not in rows  # a lead who does not rate is a member, not a rater row
    chart = response.context["chart"]
    assert len(chart["bars"]) == 30
    assert chart["total"] == 2
    assert [b["n"] for b in chart["bars"]][-4:] == [1, 0, 0, 1]
    html = response.content.decode()
    assert "<svg" in html
    assert 'class="chart-bar"' in html
    assert " style=" not in html
    assert "dull" not in html
    assert "4</td>" not in html.split("Raters")[0]  # counts, never scores or reasons


def test_bar_chart_geometry_scales_to_the_busiest_day():
    today = timezone.now().date()
    chart = bar_chart([(today - timedelta(days=1), 5), (today, 10)], width=100, height=50, top=10)
    assert chart["peak"] == 10
    assert chart["base"] == 60
    assert [b["h"] for b in chart["bars"]] == ["25.0", "50.0"]
    assert chart["bars"][1]["y"] == "10.0"
    empty = bar_chart([(today, 0)])
    assert empty["peak"] == 0
    assert empty["bars"][0]["h"] == "0.0"


def test_dashboard_reads_take_a_fixed_number_of_queries(make_project, lead, django_assert_max_num_queries):
    project = make_project("busy", items=6, raters=[f"r{i}" for i in range(8)])
    for m in project.memberships.filter(role="rater").select_related("user"):
        submit_rating(assignment=next_assignment(project=project, rater=m.user), scores=GOOD)
    c = client_for(lead)
    with django_assert_max_num_queries(20):
        assert c.get(dashboard(project)).status_code == 200


def test_dashboard_permissions(project, lead, admin_user, make_project):
    assert client_for(lead).get(dashboard(project)).status_code == 200
    assert client_for(admin_user).get(dashboard(project)).status_code == 200
    assert client_for(rater(project, "alice")).get(dashboard(project)).status_code == 404
    assert client_for(UserFactory(username="stranger")).get(dashboard(project)).status_code == 404
    other_lead = UserFactory(username="other-lead")
    make_project("other").memberships.create(user=other_lead, role="lead")
    assert client_for(other_lead).get(dashboard(project)).status_code == 404
    assert Client().get(dashboard(project)).status_code == 302


# --- Members ---------------------------------------------------------------------------------


def test_a_lead_adds_a_rater_by_username(project, lead):
    UserFactory(username="dave")
    c = client_for(lead)
    response = c.post(reverse("project-add-member", args=[project.slug]), {"username": "dave", "role": "rater"})
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user__username="dave").role == Membership.Role.RATER
    unknown = c.post(reverse("project-add-member", args=[project.slug]), {"username": "nobody", "role": "rater"})
    assert unknown.status_code == 400
    assert "no user named" in unknown.content.decode()


def test_automated_judges_cannot_be_added(project, lead):
    UserFactory(username="judge:x", is_automated=True, is_active=False)
    response = client_for(lead).post(
        reverse("project-add-member", args=[project.slug]), {"username": "judge:x", "role": "rater"}
    )
    assert response.status_code == 400
    assert "automated" in response.content.decode()
    assert not Membership.objects.filter(user__username="judge:x").exists()


def test_a_lead_pauses_and_resumes_a_rater(project, lead):
    alice = rater(project, "alice")
    url = reverse("project-pause-member", args=[project.slug, alice.pk])
    c = client_for(lead)
    assert c.post(url, {"paused": "1"}).status_code == 302
    assert Membership.objects.get(project=project, user=alice).paused
    assert "paused" in client_for(alice).get(reverse("rate", args=[project.slug])).content.decode()
    assert c.post(url, {"paused": "0"}).status_code == 302
    assert not Membership.objects.get(project=project, user=alice).paused


def test_member_changes_are_lead_only_and_post_only(project, lead, make_project):
    alice = rater(project, "alice")
    url = reverse("project-pause-member", args=[project.slug, alice.pk])
    assert client_for(alice).post(url, {"paused": "1"}).status_code == 404
    assert client_for(alice).post(
        reverse("project-add-member", args=[project.slug]), {"username": "alice", "role": "lead"}
    ).status_code == 404
    assert client_for(lead).get(url).status_code == 405
    outsider = UserFactory(username="outsider")
    assert client_for(lead).post(
        reverse("project-pause-member", args=[project.slug, outsider.pk]), {"paused": "1"}
    ).status_code == 404
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(lead)
    assert csrf.post(url, {"paused": "1"}).status_code == 403
    assert not Membership.objects.get(project=project, user=alice).paused
    assert Membership.objects.get(project=project, user=alice).role == Membership.Role.RATER


def test_a_lead_imports_more_items_and_sees_errors_for_a_bad_file(project, lead):
    c = client_for(lead)
    url = reverse("project-import-items", args=[project.slug])
    good = SimpleUploadedFile("more.jsonl", items_jsonl(2, start=10))
    assert c.post(url, {"items": good}).status_code == 302
    assert project.items.count() == 7
    dup = json.dumps({"id": "t-0001", "prompt": "again", "responses": [{"model": "m1", "text": "x"}]}).encode()
    bad = c.post(url, {"items": SimpleUploadedFile("dup.jsonl", dup)})
    assert bad.status_code == 400
    assert "line 1: id:" in bad.content.decode()
    assert project.items.count() == 7


# --- The home page links ---------------------------------------------------------------------


def test_home_links_each_role_to_its_pages(project, lead):
    alice_home = client_for(rater(project, "alice")).get(reverse("home")).content.decode()
    assert reverse("rate", args=[project.slug]) in alice_home
    assert dashboard(project) not in alice_home
    assert reverse("project-new") not in alice_home
    lead_home = client_for(lead).get(reverse("home")).content.decode()
    assert dashboard(project) in lead_home
    assert reverse("project-new") in lead_home


def test_no_report_is_computed_inside_a_page_request(project, lead):
    client_for(lead).get(dashboard(project))
    assert not AgreementReport.objects.exists()
