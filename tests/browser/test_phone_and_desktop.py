"""Every page at a phone's width (390 px) for every role: nothing wider than the screen (tables scroll
inside their cards), tap targets of at least 44 px, the Content Security Policy kept; the lead pages'
one navigation bar on a single row at 1366 px.  Screenshots of each lead page at both widths are kept
as test artefacts under ``$EVAL_ARTEFACTS_DIR`` (default ``tmp/artefacts/screenshots`` in the checkout)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from evalplatform.demo.head_to_head import PROJECT_SLUG as PAIRWISE_SLUG
from evalplatform.demo.loader import ACCOUNTS, PROJECT_SLUG, load_demo
from evalplatform.demo.rounds import SUITE_SLUG
from evalplatform.enrolment.services import create_invitation_link
from evalplatform.projects.links import LEAD_NAV
from evalplatform.projects.models import Project, Task
from evalplatform.reports import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 850}
PASSWORDS = {account.username: account.password for account in ACCOUNTS}
ARTEFACTS = Path(os.environ.get("EVAL_ARTEFACTS_DIR") or Path(settings.BASE_DIR) / "tmp" / "artefacts") / "screenshots"

# Controls a finger must hit, where they are visible: buttons, button-like links, the lead navigation,
# the choices of a rating form.  Links inside running text and table cells are exempt (WCAG 2.5.8).
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main button, main .button, main select, main input:not([type=hidden]):not([type=radio]):not([type=checkbox]),'
    + ' .lead-nav a, label.level, .topbar a, .topbar button')]
  .filter(e => e.offsetParent !== null && !e.closest('details:not([open])'))
  .map(e => ({what: e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 30),
              h: e.getBoundingClientRect().height}))
  .filter(t => t.h > 0 && t.h < 43.5)"""
OVERFLOW = "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"


@pytest.fixture
def demo():
    project, _ = load_demo()
    pairwise = Project.objects.get(slug=PAIRWISE_SLUG)
    for p in (project, pairwise):
        services.compute(report_id=services.create_report(project=p, bootstrap=50).pk)
    return project, pairwise


def lead_pages(project, pairwise) -> dict[str, str]:
    task = Task.objects.filter(project=project, ratings__isnull=False).first()
    s, h = project.slug, pairwise.slug
    return {
        "dashboard": f"/projects/{s}/dashboard/", "report": f"/projects/{s}/report/",
        "quality": f"/projects/{s}/quality/", "gold": f"/projects/{s}/quality/gold/",
        "adjudication": f"/projects/{s}/quality/adjudication/",
        "adjudicate": f"/projects/{s}/quality/adjudication/{task.pk}/",
        "items": f"/projects/{s}/report/items/", "item": f"/projects/{s}/report/items/ticket-003/",
        "pairwise-dashboard": f"/projects/{h}/dashboard/", "pairwise-report": f"/projects/{h}/report/",
        "pairwise-item": f"/projects/{h}/report/items/ticket-001/", "runs": f"/projects/{s}/runs/",
    }


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORDS[username])
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert "/accounts/login/" not in page.url


def check_fits(page, path: str, *, targets: bool = True) -> list[str]:
    """Open ``path`` and return what is wrong with it at the current width."""
    response = page.goto(path)
    problems = []
    if response is None or response.status != 200:
        return [f"{path}: status {response.status if response else None}"]
    size = page.evaluate(OVERFLOW)
    if size["scroll"] > size["inner"]:
        problems.append(f"{path}: the page is {size['scroll']} px wide on a {size['inner']} px screen")
    if targets:
        problems += [f"{path}: {t['what']!r} is {t['h']:.0f} px high" for t in page.evaluate(SMALL_TARGETS)]
    return problems


def test_every_page_fits_a_phone_for_every_role(page, demo):
    project, pairwise = demo
    page.set_viewport_size(PHONE)
    problems = check_fits(page, "/accounts/login/")
    s = PROJECT_SLUG
    invitation = create_invitation_link(project=project, seats=3, created_by=project.created_by)
    problems += check_fits(page, f"/invite/{invitation.token}/")  # what an invited rater opens first
    pages = {
        "alice": ["/", f"/projects/{s}/rate/", f"/projects/{PAIRWISE_SLUG}/rate/", f"/projects/{s}/guidelines/",
                  f"/projects/{s}/training/"],
        "lead": ["/", "/projects/new/", "/suites/", f"/suites/{SUITE_SLUG}/", *lead_pages(project, pairwise).values(),
                 f"/projects/{s}/training/manage/", f"/projects/{s}/report/tracking/", f"/projects/{s}/access/"],
        "admin": ["/", f"/projects/{s}/report/"],
    }
    third_party = ["/api/docs/", "/api/projects/", "/admin/"]
    for username, paths in pages.items():
        page.context.clear_cookies()
        log_in(page, username)
        for path in paths:
            problems += check_fits(page, path)
        if username in ("lead", "admin"):
            for path in third_party:  # not ours to restyle: wide is wrong, small buttons are theirs
                problems += check_fits(page, path, targets=False)
    assert not problems, "\n".join(problems)
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []


def test_lead_pages_at_desktop_and_phone_widths_with_one_navigation_row(page, demo):
    project, pairwise = demo
    log_in(page, "lead")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        for name, path in lead_pages(project, pairwise).items():
            page.goto(path)
            page.wait_for_load_state("networkidle")
            links = page.locator(".lead-nav a")
            assert links.count() == len(LEAD_NAV), path  # every lead page, on every lead page
            tops = {round(box["y"]) for box in (links.nth(i).bounding_box() for i in range(len(LEAD_NAV)))}
            if size is DESKTOP:
                assert len(tops) == 1, f"{path}: the navigation wraps onto {len(tops)} rows at 1366 px"
            here = page.locator(".lead-nav a[aria-current=page]").bounding_box()
            assert here["x"] >= 0, f"{path}: current link off screen"
            assert here["x"] + here["width"] <= size["width"] + 1, f"{path}: current link off screen"
            page.screenshot(path=str(ARTEFACTS / f"{name}-{size['width']}.png"), full_page=True)
    assert len(list(ARTEFACTS.glob("*-1366.png"))) >= 12
    assert len(list(ARTEFACTS.glob("*-390.png"))) >= 12
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []
