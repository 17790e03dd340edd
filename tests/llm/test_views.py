"""The model runs page: leads start, watch, cancel and resume runs; one click runs the demo judge."""

from __future__ import annotations

import pytest
from django.test import Client

from evalplatform.llm import services
from evalplatform.llm.models import Run
from evalplatform.projects.models import Membership
from evalplatform.ratings.models import Rating

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_report_refresh")]


@pytest.fixture
def project(make_project):
    return make_project("tickets", items=3, raters=("alice",))


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_dashboard_links_the_runs_page_and_shows_progress(project, lead, make_endpoint):
    run = services.start_judge(project=project, endpoints=[make_endpoint("critic")])
    page = as_user(lead).get(f"/projects/{project.slug}/dashboard/").content.decode()
    assert f'href="/projects/{project.slug}/runs/"' in page
    assert f'<tr data-run="{run.pk}">' in page
    assert "3 / 3" in page


def test_lead_starts_a_run_from_the_form_and_reads_its_progress(project, lead, make_endpoint):
    make_endpoint("drafter")
    client = as_user(lead)
    answer = client.post(f"/projects/{project.slug}/runs/start/",
                         {"kind": "generation", "endpoints": ["drafter"], "template": "Reply: {prompt}"})
    assert answer.status_code == 302
    run = Run.objects.get()
    assert run.kind == "generation"
    assert run.status == "done"
    page = client.get(f"/projects/{project.slug}/runs/").content.decode()
    assert f'<tr data-run="{run.pk}">' in page
    assert "3 / 3" in page
    assert run.prompt_version in page
    status = client.get(f"/projects/{project.slug}/runs/status/").json()
    (row,) = status["runs"]
    assert {k: row[k] for k in ("id", "status", "finished", "total", "invalid", "failed")} == {
        "id": run.pk, "status": "done", "finished": 3, "total": 3, "invalid": 0, "failed": 0}


def test_a_bad_template_is_shown_with_the_reason(project, lead, make_endpoint):
    make_endpoint("drafter")
    answer = as_user(lead).post(f"/projects/{project.slug}/runs/start/",
                                {"kind": "generation", "endpoints": ["drafter"], "template": "{colour}"})
    assert answer.status_code == 400
    assert "unknown field(s) colour" in answer.content.decode()
    assert not Run.objects.exists()


def test_cancel_and_resume_buttons(project, lead, make_endpoint, monkeypatch):
    enqueue_workers = services._enqueue_workers
    monkeypatch.setattr(services, "_enqueue_workers", lambda run_id: None)
    run = services.start_generation(project=project, endpoints=[make_endpoint("drafter")])
    client = as_user(lead)
    assert client.post(f"/projects/{project.slug}/runs/{run.pk}/cancel/").status_code == 302
    run.refresh_from_db()
    assert run.status == "cancelled"
    monkeypatch.setattr(services, "_enqueue_workers", enqueue_workers)
    assert client.post(f"/projects/{project.slug}/runs/{run.pk}/resume/").status_code == 302
    run.refresh_from_db()
    assert run.status == "done"


def test_one_click_runs_the_demo_judge(project, lead, settings):
    settings.EVAL_FAKE_LLM_DEMO = True
    client = as_user(lead)
    assert "Run the demo judge" in client.get(f"/projects/{project.slug}/runs/").content.decode()
    answer = client.post(f"/projects/{project.slug}/runs/demo-judge/")
    assert answer.status_code == 302
    assert Rating.objects.filter(project=project, rater__username="judge:demo-judge").count() == 3
    settings.EVAL_FAKE_LLM_DEMO = False
    assert client.post(f"/projects/{project.slug}/runs/demo-judge/").status_code == 404
    assert "Run the demo judge" not in client.get(f"/projects/{project.slug}/runs/").content.decode()


def test_raters_and_strangers_do_not_find_the_page(project, make_endpoint):
    alice = Membership.objects.get(project=project, role="rater").user
    client = as_user(alice)
    for url in (f"/projects/{project.slug}/runs/", f"/projects/{project.slug}/runs/status/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/projects/{project.slug}/runs/demo-judge/").status_code == 404
    assert not Run.objects.exists()
