"""The report at a glance in a real browser: the strip is the first thing under the title, its links
reach their sections, and its parameters form asks for a report with every parameter."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.reports import services
from tests.reports.conftest import rated_project  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_report_refresh")]


def test_the_strip_opens_the_report_and_leads_to_each_section(page, login, rated_project):  # noqa: F811
    project = rated_project("glance", items=8, models=("m1", "m2"))
    report = services.compute(report_id=services.create_report(project=project, bootstrap=50).pk)
    page.set_viewport_size({"width": 1366, "height": 850})
    login("lead", next_url=reverse("report", args=[project.slug]))
    strip = page.locator("#summary")
    assert strip.bounding_box()["y"] < 300  # under the title, before any chart
    rows = page.locator("#summary .glance-row[data-dimension]")
    assert rows.count() == len(report.result["dimensions"])
    first = report.result["dimensions"][0]
    text = rows.first.inner_text()
    assert f'{first["krippendorff_alpha"]["value"]:.3f}' in text
    assert any(word in text for word in ("reliable", "tentative", "not reliable"))
    assert "leader m1" in " ".join(text.split())
    rows.first.locator("a.glance-name").click()
    page.wait_for_function("() => location.hash === '#dim-accuracy'")
    box = page.locator("#dim-accuracy").bounding_box()
    assert -1 <= box["y"] < 850

    # Parameters: every one the API takes, starting from the shown report's.
    page.locator("#report-parameters summary").click()
    assert page.locator('#report-parameters input[name="bootstrap"]').input_value() == "50"
    page.fill('#report-parameters input[name="bootstrap"]', "30")
    page.fill('#report-parameters input[name="seed"]', "7")
    page.check('#report-parameters input[name="icc"]')
    page.uncheck('#report-parameters input[name="include_paused"]')
    with page.expect_navigation():
        page.get_by_role("button", name="Recompute with these parameters").click()
    newest = project.reports.order_by("-id").first()
    assert newest.pk != report.pk
    assert newest.parameters == {"bootstrap": 30, "seed": 7, "icc": True, "include_paused": False,
                                 "include_gold": False, "include_automated": False}
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []
