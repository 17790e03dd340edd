"""The lead's report page in a real browser: the charts draw (Chart.js from static files, data from
json_script) without breaking the Content Security Policy, and the page follows a computation in
progress until it is done."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evalplatform.reports import services
from evalplatform.reports.models import AgreementReport
from tests.reports.conftest import rated_project  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A canvas counts as drawn when it holds a Chart and some of its pixels are not transparent.
DRAWN = """() => [...document.querySelectorAll('canvas[data-chart]')].map(c => {
  const chart = window.Chart && window.Chart.getChart(c);
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return {kind: c.dataset.chart, chart: !!chart, datasets: chart ? chart.data.datasets.length : 0, painted};
})"""


@pytest.fixture(autouse=True)
def _no_automatic_refresh(monkeypatch):
    # Imported ratings would schedule a refresh; the tests here ask for their reports themselves.
    monkeypatch.setattr(services, "schedule_refresh", lambda **kwargs: False)


def assert_page_clean(page) -> None:
    assert page.watch.csp_violations() == []
    assert page.watch.errors == []
    assert page.watch.dialogs == []


def test_the_report_page_draws_its_charts_within_the_csp(page, login, rated_project):  # noqa: F811
    project = rated_project("browse", items=8, models=("m1", "m2"))
    report = services.compute(report_id=services.create_report(project=project, bootstrap=100).pk)
    login("lead", next_url=reverse("report", args=[project.slug]))
    page.wait_for_selector("canvas[data-chart]")
    page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas[data-chart]').length"
                           " === [...document.querySelectorAll('canvas[data-chart]')]"
                           ".filter(c => window.Chart.getChart(c)).length")
    canvases = page.evaluate(DRAWN)
    n_dims = len(report.result["dimensions"])
    assert sorted({c["kind"] for c in canvases}) == ["coefficients", "distribution", "models"]
    assert len(canvases) == 3 * n_dims
    for canvas in canvases:
        assert canvas["chart"], canvas
        assert canvas["datasets"] >= 1, canvas
        assert canvas["painted"] > 500, canvas
    # The figures are on the page as text too (for print and screen readers), readings included.
    assert "Krippendorff" in page.inner_text("#dimensions")
    assert page.locator(".heatmap").count() == n_dims
    assert page.locator("#metadata table").count() >= 1
    # The table of disagreements links to an item page with every rater's scores side by side.
    page.locator(".report-disagreed a").first.click()
    page.wait_for_selector(".report-side-by-side")
    assert page.locator(".report-side-by-side tbody tr").count() >= 3
    assert_page_clean(page)


def test_the_page_follows_a_report_in_progress_and_reloads_when_done(page, login, rated_project):  # noqa: F811
    project = rated_project("progress", items=4, models=("m1",))
    first = services.compute(report_id=services.create_report(project=project, bootstrap=20).pk)
    pending = services.create_report(project=project, bootstrap=20)  # queued: no worker takes it yet
    AgreementReport.objects.filter(pk=pending.pk).update(status="running", progress=0.4)
    login("lead", next_url=reverse("report", args=[project.slug]))
    page.wait_for_selector("#report-progress:not([hidden])")
    page.wait_for_function("() => document.getElementById('report-progress-text').textContent.includes('40%')")
    assert page.is_disabled("#report-recompute")
    assert f"#{first.pk}" in page.inner_text(".report-summary")

    AgreementReport.objects.filter(pk=pending.pk).update(status="queued")  # as if a worker died and...
    services.compute(report_id=pending.pk)  # ...the redelivered task finished it
    page.wait_for_function(f"() => document.querySelector('.report-summary').textContent.includes('#{pending.pk}')",
                           timeout=15_000)
    assert page.is_hidden("#report-progress")
    assert page.is_enabled("#report-recompute")
    assert_page_clean(page)


def test_the_recompute_button_asks_for_a_new_report(page, login, rated_project):  # noqa: F811
    project = rated_project("button", items=3, models=("m1",))
    first = services.compute(report_id=services.create_report(project=project, bootstrap=20).pk)
    login("lead", next_url=reverse("report", args=[project.slug]))
    page.wait_for_selector("#report-recompute")
    with page.expect_navigation():
        page.click("#report-recompute")
    # The test settings run the task in-process, so the new report is done by the time the page loads.
    newest = project.reports.order_by("-id").first()
    assert newest.pk != first.pk
    assert newest.trigger == "manual"
    assert newest.status == "done"
    assert f"#{newest.pk}" in page.inner_text(".report-summary")
    assert_page_clean(page)
