"""Every page that shows untrusted text, filled with the hostile corpus, keeps it text.

Each page's HTML is checked the way a browser would parse it (tests/security/htmlcheck.py): no script
but the application's own files and JSON blocks, no event handlers, no script or data URLs, nothing
that embeds or redirects.  Pages: the rating page (single and pairwise, a full load, a refused
submission and the script's JSON fragment), the lead's home, dashboard, report, item pages, quality,
gold and adjudication pages, forms that echo what was typed, the Django admin (every model's list,
search, add, change and history pages), the API's documentation and its browsable pages, and error
pages.  tests/browser/test_security_xss.py runs the same corpus in Chromium.
"""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Item, Task
from evalplatform.reports.models import AgreementReport
from rubrics.models import Rubric
from tests.security.hostile import IDS, JOINED, build_hostile
from tests.security.htmlcheck import script_hazards
from tests.security.payloads import PAYLOADS

pytestmark = pytest.mark.django_db


@pytest.fixture
def hostile(db):
    return build_hostile()


def client(user) -> Client:
    c = Client(raise_request_exception=False)
    c.force_login(user)
    return c


def check(c: Client, url: str, *, status: int = 200, method: str = "get", **kwargs) -> str:
    response = getattr(c, method)(url, **kwargs)
    assert response.status_code == status, f"{url}: {response.status_code}"
    html = response.content.decode()
    problems = script_hazards(html)
    assert not problems, f"{url}:\n" + "\n".join(problems)
    return html


def lead_pages(h) -> list[str]:
    urls = [reverse("home"), reverse("project-new")]
    for project in (h.main, h.pair):
        slug = project.slug
        urls += [reverse(name, args=[slug]) for name in (
            "project-dashboard", "report", "quality-overview", "quality-gold", "quality-adjudication")]
        urls += [reverse("report-item", args=[slug, item.external_id]) for item in Item.objects.filter(project=project)]
        urls += [reverse("quality-adjudicate", args=[slug, task.pk])
                 for task in Task.objects.filter(project=project, is_gold=False).order_by("id")[:4]]
    return urls


def test_the_lead_sees_hostile_text_as_text(hostile):
    lead = client(hostile.lead)
    pages = lead_pages(hostile)
    assert len(pages) > 100  # every item page of both projects
    for url in pages:
        check(lead, url)
    report = check(lead, reverse("report", args=[hostile.main.slug]))
    assert "report-charts" in report
    assert "Scores by metadata" in report  # the charts' data and every section


def test_a_rater_sees_hostile_text_as_text(hostile):
    alice = client(hostile.alice)
    page = check(alice, reverse("rate", args=[hostile.main.slug]))
    assert "window.__xss=1" in page
    assert "{{7*7}}" in page  # shown, as text
    assignment = Assignment.objects.get(rater=hostile.alice, status=Assignment.Status.ACTIVE)
    assert assignment.task.item.external_id == "showcase"
    submit = reverse("rate-submit", args=[hostile.main.slug, assignment.pk])
    # Refused (accuracy is missing): the page comes back with what was typed in the text boxes.
    refused = check(alice, submit, status=400, method="post",
                    data={"justification": JOINED, "score-why": JOINED, "score-harmless": "1"})
    assert "window.__xss=1" in refused
    # The script's submit: the next item comes back as an HTML fragment inside JSON.
    response = alice.post(submit, {"score-accuracy": "3", "score-harmless": "1", "justification": JOINED,
                                   "score-why": JOINED},
                          HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    fragment = json.loads(response.content)["html"]
    assert not script_hazards(fragment)
    bob = client(hostile.bob)
    check(bob, reverse("rate", args=[hostile.pair.slug]))
    assert Assignment.objects.get(rater=hostile.bob, status=Assignment.Status.ACTIVE).task.item.external_id == (
        "showcase-pair")


def test_forms_echo_hostile_input_as_text(hostile):
    lead = client(hostile.lead)
    slug = hostile.main.slug
    for payload in PAYLOADS:
        check(lead, reverse("project-add-member", args=[slug]), status=400, method="post",
              data={"username": payload[:140] + " (nobody)", "role": "rater"})
        check(lead, reverse("quality-gold", args=[slug]), status=400, method="post",
              data={"item_id": payload[:200], "model": payload[:200], "score-accuracy": "3"})
    check(lead, reverse("project-new"), status=400, method="post",
          data={"name": JOINED, "slug": "not a slug", "description": JOINED, "overlap": "x"})
    check(lead, reverse("quality-settings", args=[slug]), status=400, method="post",
          data={"gold_rate": JOINED, "consensus_rule": JOINED})


def admin_pages(h) -> list[str]:
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"admin:{opts.app_label}_{opts.model_name}"
        urls += [reverse(f"{base}_changelist"), reverse(f"{base}_changelist") + "?q=%3Cscript%3Ewindow.__xss%3D1"]
        if model_admin.has_add_permission(_request(h.admin)):
            urls.append(reverse(f"{base}_add"))
        for obj in model._default_manager.order_by("-pk")[:2]:
            urls += [reverse(f"{base}_change", args=[obj.pk]), reverse(f"{base}_history", args=[obj.pk])]
    return urls


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_the_admin_shows_hostile_text_as_text(hostile):
    admin_client = client(hostile.admin)
    pages = admin_pages(hostile)
    assert len(pages) > 40
    for url in pages:
        check(admin_client, url)


def test_the_api_pages_show_hostile_text_as_text(hostile):
    lead = client(hostile.lead)
    main, pair = hostile.main, hostile.pair
    report = AgreementReport.objects.filter(project=main, status="done").first()
    browsable = [
        "/api/projects/", f"/api/projects/{main.pk}/", f"/api/projects/{main.pk}/items/", "/api/ratings/",
        f"/api/projects/{main.pk}/members/", f"/api/rubrics/{Rubric.objects.get(slug='hostile').pk}/",
        f"/api/projects/{main.pk}/quality/adjudications/{hostile.adjudicated.pk}/",
        f"/api/projects/{pair.pk}/quality/scorecards/", f"/api/reports/{report.pk}/",
    ]
    for url in browsable:
        check(lead, url, HTTP_ACCEPT="text/html")
    check(lead, "/api/docs/")


def test_error_pages_show_hostile_paths_as_text(hostile):
    lead = client(hostile.lead)
    for payload in ("<script>window.__xss=1</script>", "\"><img src=x onerror=window.__xss=1>"):
        check(lead, f"/projects/x/report/items/{payload}/", status=404)
        check(lead, f"/{payload}", status=404)
        check(lead, f"/api/projects/?page={payload}", status=404, HTTP_ACCEPT="text/html")


def test_every_item_id_is_reachable(hostile):
    """Item ids may hold any printable text: each payload's item page is found at the URL the report links to."""
    lead = client(hostile.lead)
    for external_id in IDS:
        if external_id.startswith(".") or "/." in external_id:
            continue  # "." and ".." path segments are resolved by the browser (a link, never a leak)
        response = lead.get(reverse("report-item", args=[hostile.main.slug, external_id]))
        assert response.status_code == 200, external_id


def test_an_item_id_with_a_line_break_is_refused(make_project):
    """Such an id could not be linked to: the report page linking to it would fail for everyone."""
    import io

    from evalplatform.projects.records import ImportRejected
    from evalplatform.projects.services import import_items

    project = make_project("breaks")
    for bad in ("a\nb", "a\rb", "tab\there", "nul\x00"):
        record = {"id": bad, "prompt": "p", "responses": [{"model": "m", "text": "t"}]}
        with pytest.raises(ImportRejected) as refused:
            import_items(project=project, stream=io.BytesIO(json.dumps(record).encode()), fmt="jsonl")
        message = refused.value.lines()[0]
        assert "control characters" in message or "NUL character" in message, message
    assert project.items.count() == 0
