"""The lead's report pages: who may open them, what they show, recompute, progress, downloads."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from evalplatform.ratings.models import Rating
from evalplatform.reports import services
from evalplatform.reports.models import AgreementReport
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db
EVIL = '<script>window.__xss=1</script><img src=x onerror="alert(1)">'


@pytest.fixture
def reported(rated_project):
    project = rated_project("rep", items=6, models=("m1", "m2"))
    report = services.compute(report_id=services.create_report(project=project, bootstrap=50).pk)
    return project, report


def client_as(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def lead_client(lead):
    return client_as(lead)


def test_leads_and_staff_read_the_report_raters_and_strangers_do_not(reported, lead, admin_user):
    project, _ = reported
    alice = Rating.objects.filter(project=project).first().rater
    urls = [reverse(name, args=[project.slug]) for name in ("report", "report-status")]
    urls += [reverse("report-item", args=[project.slug, "t-0001"]),
             reverse("report-export", args=[project.slug, "csv"]),
             reverse("report-export", args=[project.slug, "report"])]
    for url in urls:
        assert client_as(lead).get(url).status_code == 200, url
        assert client_as(admin_user).get(url).status_code == 200, url
        assert client_as(alice).get(url).status_code == 404, url  # a rater of this very project
        assert client_as(UserFactory(username=f"s{len(url)}")).get(url).status_code == 404, url
        response = client_as(None).get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    recompute = reverse("report-recompute", args=[project.slug])
    assert client_as(alice).post(recompute).status_code == 404
    assert client_as(lead).get(recompute).status_code == 405


def test_the_page_shows_every_section_and_the_figures(reported, lead_client):
    project, report = reported
    response = lead_client.get(reverse("report", args=[project.slug]))
    html = response.content.decode()
    for section in report.result["sections"]:
        assert section in report.result
    for anchor in ('id="dimensions"', 'id="raters"', 'id="metadata"', 'id="report-charts"', 'id="report-poll"'):
        assert anchor in html
    assert 'data-chart="coefficients"' in html
    assert 'data-chart="models"' in html
    accuracy = report.result["dimensions"][0]
    assert f'{accuracy["krippendorff_alpha"]["value"]:.3f}' in html
    assert "Landis &amp; Koch" in html
    assert "heatmap" in html
    assert "By topic" in html
    assert "<script>" not in html.split('id="report-charts"')[0].split("<main>")[1]  # no inline script
    charts = json.loads(html.split('id="report-charts" type="application/json">')[1].split("</script>")[0])
    assert [c["dimension"] for c in charts] == [d["dimension"] for d in report.result["dimensions"]]
    assert response.context["new_ratings"] == 0


def test_the_home_page_links_leads_to_the_report(reported, lead_client):
    project, _ = reported
    assert reverse("report", args=[project.slug]) in lead_client.get("/").content.decode()


def test_new_ratings_since_the_report_are_counted(reported, lead_client):
    project, report = reported
    type(project).objects.filter(pk=project.pk).update(ratings_seq=report.data_seq + 7)
    response = lead_client.get(reverse("report", args=[project.slug]))
    assert response.context["new_ratings"] == 7
    status = lead_client.get(reverse("report-status", args=[project.slug])).json()
    assert status == {"pending": None, "failed": None, "latest_done": report.pk, "new_ratings": 7}


def test_a_project_without_a_report_says_so(make_project, lead_client):
    project = make_project("empty", items=2)
    html = lead_client.get(reverse("report", args=[project.slug])).content.decode()
    assert "No report yet" in html
    assert 'id="report-charts"' not in html


def test_recompute_requests_a_report_with_the_shown_parameters(reported, lead, django_capture_on_commit_callbacks):
    project, report = reported
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    url = reverse("report-recompute", args=[project.slug])
    assert client.post(url).status_code == 403  # no CSRF token
    page = client.get(reverse("report", args=[project.slug]))
    token = page.context["csrf_token"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert response["Location"] == reverse("report", args=[project.slug])
    new = project.reports.order_by("-id").first()
    assert new.pk != report.pk
    assert new.status == "queued"
    assert new.requested_by == lead
    assert new.parameters["bootstrap"] == 50
    assert len(callbacks) == 1  # computed by a worker, after commit
    # While it is pending, the page shows progress and a second press does not queue another.
    html = client.get(reverse("report", args=[project.slug])).content.decode()
    assert 'id="report-progress"' in html
    assert 'id="report-progress" hidden' not in html
    client.post(url, {"csrfmiddlewaretoken": str(token)})
    assert project.reports.count() == 2


def test_status_reports_progress_and_failures(reported, lead_client):
    project, report = reported
    running = AgreementReport.objects.create(project=project, status="running", progress=0.42)
    url = reverse("report-status", args=[project.slug])
    body = lead_client.get(url).json()
    assert body["pending"]["id"] == running.pk
    assert body["pending"]["progress"] == 0.42
    assert body["latest_done"] == report.pk
    services.mark_failed(report_id=running.pk, error="ValueError: bad")
    body = lead_client.get(url).json()
    assert body["pending"] is None
    assert body["failed"]["error"] == "ValueError: bad"
    assert "ValueError: bad" in lead_client.get(reverse("report", args=[project.slug])).content.decode()


def test_the_item_page_shows_every_raters_scores_side_by_side_escaped(reported, lead_client):
    project, _ = reported
    Rating.objects.filter(project=project, task__item__external_id="t-0001").update(justification=EVIL)
    project.items.filter(external_id="t-0001").update(prompt=f"Hello {EVIL}")
    response = lead_client.get(reverse("report-item", args=[project.slug, "t-0001"]))
    html = response.content.decode()
    comparison = response.context["comparison"]
    assert [t.label for t in comparison.tasks] == ["m1", "m2"]
    assert [row.rating.rater.username for row in comparison.tasks[0].rows] == ["alice", "bob", "carol"]
    assert [c.key for c in comparison.tasks[0].columns] == ["accuracy", "helpfulness", "harmless", "topic", "why"]
    assert "<script>window.__xss" not in html
    assert "<img" not in html  # shown as text, never as markup
    assert html.count("&lt;script&gt;window.__xss=1&lt;/script&gt;") == 1 + 3 + 3  # prompt, 6 justifications
    assert lead_client.get(reverse("report-item", args=[project.slug, "nope"])).status_code == 404


def test_item_ids_with_slashes_have_a_page(make_project, lead_client):
    project = make_project("slashy", items=1)
    project.items.update(external_id="a/b c")
    url = reverse("report-item", args=[project.slug, "a/b c"])
    assert lead_client.get(url).status_code == 200


def test_the_item_page_queries_do_not_grow_with_raters(rated_project, lead_client, django_assert_max_num_queries):
    few = rated_project("few", items=1, models=("m1",), raters=("alice", "bob"))
    many = rated_project("many", items=1, models=("m1", "m2"), raters=("alice", "bob", "carol", "dan", "erin"))
    lead_client.get(reverse("report-item", args=[few.slug, "t-0001"]))
    with django_assert_max_num_queries(12) as captured:
        lead_client.get(reverse("report-item", args=[many.slug, "t-0001"]))
    assert len(captured) <= 12


def test_downloads_stream_every_format(reported, lead_client):
    project, report = reported

    def body(fmt):
        response = lead_client.get(reverse("report-export", args=[project.slug, fmt]))
        assert response.status_code == 200, fmt
        content = b"".join(response.streaming_content) if response.streaming else response.content
        return response, content.decode()

    response, text = body("csv")
    assert response.streaming
    assert 'filename="rep-ratings.csv"' in response["Content-Disposition"]
    assert len(list(csv.DictReader(io.StringIO(text)))) == 6 * 2 * 3 * 3
    response, text = body("items-csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert response.streaming
    assert len(rows) == 6 * 2 * 3
    assert set(rows[0]) >= {"item_id", "model", "n", "mean", "median"}
    response, text = body("items-jsonl")
    assert len(text.splitlines()) == 36
    assert json.loads(text.splitlines()[0])["n"] == 3
    response, text = body("jsonl")
    assert len(text.splitlines()) == 108
    response, text = body("report")
    document = json.loads(text)
    assert document["id"] == report.pk
    assert document["result"] == report.result
    assert lead_client.get(reverse("report-export", args=[project.slug, "xlsx"])).status_code == 404


def test_a_registered_section_shows_through_its_include(rated_project, lead_client, settings, tmp_path):
    from evalplatform.reports import compute

    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "_count.html").write_text(
        '<section class="card report-section" id="count"><h2>Count</h2><p class="n">{{ section.n }} units, '
        "{{ result.coverage.ratings }} ratings, {{ project.slug }}</p></section>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}]
    saved = list(compute.SECTIONS)
    try:
        compute.register_section(compute.Section("count", lambda p, params, data: {"n": len(data.tasks)},
                                                 "extra/_count.html", "Count"), after="dimensions")
        compute.register_section(compute.Section("nothing", lambda p, params, data: None, "extra/_missing.html"))
        project = rated_project("extra", items=2, models=("m1",))
        report = services.compute(report_id=services.create_report(project=project, bootstrap=10).pk)
    finally:
        compute.SECTIONS[:] = saved
    assert report.result["count"] == {"n": 2}
    assert report.result["nothing"] is None
    # The page takes each section's include from the registry; "nothing" (None) has none rendered.
    compute.SECTIONS.append(compute.Section("count", lambda *a: None, "extra/_count.html", "Count"))
    compute.SECTIONS.append(compute.Section("nothing", lambda *a: None, "extra/_missing.html"))
    try:
        html = lead_client.get(reverse("report", args=[project.slug])).content.decode()
    finally:
        compute.SECTIONS[:] = saved
    assert '<p class="n">2 units, 6 ratings, extra</p>' in html
    assert 'href="#count"' in html
