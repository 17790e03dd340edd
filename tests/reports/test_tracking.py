"""A finished report logged to MLflow (a local file store), read back; failures retried, never the report's."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from mlflow.tracking import MlflowClient

from evalplatform.ratings.exports import export_lines
from evalplatform.reports import tracking
from evalplatform.reports.models import AgreementReport, TrackingRun
from evalplatform.reports.services import compute, create_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=uri)


def test_a_report_logged_to_mlflow_reads_back_equal(rated_project, store, capsys):
    project = rated_project("tracked", items=6)
    report = compute(report_id=create_report(project=project, bootstrap=100, seed=2).pk)
    call_command("log_report", "--project", project.slug, "--to", "mlflow")
    (run,) = TrackingRun.objects.filter(report=report)
    assert run.run_id in capsys.readouterr().out
    logged = store.get_run(run.run_id)
    assert logged.info.status == "FINISHED"
    params = logged.data.params
    assert params["project"] == project.slug
    assert params["seed"] == "2"
    assert params["bootstrap"] == "100"
    assert params["ratings_sha256"] == report.result["manifest"]["ratings_sha256"]
    metrics = logged.data.metrics
    dims = {d["dimension"]: d for d in report.result["dimensions"]}
    assert metrics["dimension/accuracy/alpha"] == pytest.approx(dims["accuracy"]["krippendorff_alpha"]["value"])
    assert metrics["dimension/accuracy/alpha_ci_low"] == pytest.approx(dims["accuracy"]["krippendorff_alpha"]["ci95"][0])
    m1 = next(r for r in dims["helpfulness"]["by_model"] if r["model"] == "m1")
    assert metrics["mean/m1/helpfulness"] == pytest.approx(m1["mean"])
    assert metrics == pytest.approx(tracking.report_metrics(report.result))
    artefact = store.download_artifacts(run.run_id, "report.json")
    assert json.loads(open(artefact).read()) == report.result
    # the ratings and consensus exports, as the platform itself exports them
    assert {f.path for f in store.list_artifacts(run.run_id)} == {"report.json", "ratings.csv", "consensus.csv"}
    ratings = "".join(export_lines(project, "csv", options=tracking.artefact_options(report)))
    consensus = "".join(export_lines(project, "consensus-csv"))
    assert ratings.count("\n") == report.n_ratings * 3 + 1  # a row per score: three dimensions, and the header
    for name, own in (("ratings.csv", ratings), ("consensus.csv", consensus)):
        with open(store.download_artifacts(run.run_id, name), encoding="utf-8", newline="") as logged_file:
            assert logged_file.read() == own

    call_command("log_report", "--project", project.slug, "--to", "mlflow")  # already logged: the same run
    assert TrackingRun.objects.get(report=report).run_id == run.run_id
    assert len(store.search_runs([logged.info.experiment_id])) == 1


def test_the_report_page_shows_the_logged_run_and_links_a_server_run(rated_project, store, client, lead):
    from django.urls import reverse

    project = rated_project("shown", items=3)
    report = compute(report_id=create_report(project=project, bootstrap=20).pk)
    page = reverse("report", args=[project.slug])
    client.force_login(lead)
    assert "tracking-run-id" not in client.get(page).content.decode()
    run = tracking.log_report(report, to="mlflow")
    assert run.url == ""  # a local file store has no web page to link to
    assert f'<code class="tracking-run-id">{run.run_id}</code>' in client.get(page).content.decode()
    # A run on a tracking server is linked to its page there, on the report and the tracking page.
    run.url = tracking.mlflow_run_url("https://mlflow.example.com/", "7", run.run_id)
    run.save()
    assert run.url == f"https://mlflow.example.com/#/experiments/7/runs/{run.run_id}"
    link = f'<a href="{run.url}" rel="noopener noreferrer" class="tracking-run-link"><code class="tracking-run-id">'
    assert link in client.get(page).content.decode()
    assert link in client.get(reverse("report-tracking", args=[project.slug])).content.decode()


def test_the_command_refuses_a_project_without_a_done_report_and_an_unknown_tracker(rated_project, store):
    project = rated_project("untracked", items=3)
    with pytest.raises(CommandError, match="no finished report"):
        call_command("log_report", "--project", project.slug, "--to", "mlflow")
    with pytest.raises(CommandError, match="no project"):
        call_command("log_report", "--project", "nope", "--to", "mlflow")
    with pytest.raises(CommandError):
        call_command("log_report", "--project", project.slug, "--to", "neptune")
    assert not TrackingRun.objects.exists()


def test_with_eval_tracking_a_stored_report_is_logged_and_a_failure_leaves_it_done(
        rated_project, store, monkeypatch, django_capture_on_commit_callbacks):
    from evalplatform.reports import tasks

    project = rated_project("auto", items=4)
    monkeypatch.setenv("EVAL_TRACKING", "mlflow")
    calls = []

    def broken(report):
        calls.append(report.pk)
        raise ConnectionError("tracking server down")

    monkeypatch.setattr(tracking, "_mlflow_run", broken)
    with django_capture_on_commit_callbacks(execute=True):
        report = compute(report_id=create_report(project=project, bootstrap=50).pk)
    assert calls == [report.pk]  # the hook enqueued the task, which ran (and failed)
    report.refresh_from_db()
    assert report.status == AgreementReport.Status.DONE
    assert not TrackingRun.objects.exists()
    assert tasks.log_report_run.autoretry_for == (Exception,)
    assert tasks.log_report_run.max_retries == 5

    monkeypatch.undo()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run_id = tasks.log_report_run.apply(args=(report.pk, "mlflow")).get()  # the retry succeeds
    assert TrackingRun.objects.get(report=report).run_id == run_id
    assert store.get_run(run_id).data.params["report_id"] == str(report.pk)


def test_metrics_carry_bradley_terry_ratings_and_each_judges_calibration_with_bounds():
    result = {
        "leaderboard": [{"dimension": "preference", "models": [
            {"model": "m1", "rating": 1080.5, "ci95": [1010.0, 1150.25]}, {"model": "m2", "rating": 919.5, "ci95": None}]}],
        "judges": [{"rater": "gpt-judge", "dimensions": [{
            "dimension": "accuracy", "judge_kappa": {"value": 0.61, "ci95": [0.4, 0.8]},
            "alpha_with_judge": {"value": 0.55, "ci95": [None, None]}, "kappa_gap": {"value": -0.05, "ci95": [-0.2, 0.1]},
            "offset": {"value": 0.3, "ci95": [0.1, 0.5]}, "spearman": {"value": 0.7, "ci95": [0.5, 0.85], "p_value": 0.001}}]}],
    }
    metrics = tracking.report_metrics(result)
    assert metrics == {
        "bradley_terry/preference/m1": 1080.5, "bradley_terry/preference/m1_ci_low": 1010.0,
        "bradley_terry/preference/m1_ci_high": 1150.25, "bradley_terry/preference/m2": 919.5,
        "judge/gpt-judge/accuracy/judge_kappa": 0.61, "judge/gpt-judge/accuracy/judge_kappa_ci_low": 0.4,
        "judge/gpt-judge/accuracy/judge_kappa_ci_high": 0.8, "judge/gpt-judge/accuracy/alpha_with_judge": 0.55,
        "judge/gpt-judge/accuracy/kappa_gap": -0.05, "judge/gpt-judge/accuracy/kappa_gap_ci_low": -0.2,
        "judge/gpt-judge/accuracy/kappa_gap_ci_high": 0.1, "judge/gpt-judge/accuracy/offset": 0.3,
        "judge/gpt-judge/accuracy/offset_ci_low": 0.1, "judge/gpt-judge/accuracy/offset_ci_high": 0.5,
        "judge/gpt-judge/accuracy/spearman": 0.7, "judge/gpt-judge/accuracy/spearman_ci_low": 0.5,
        "judge/gpt-judge/accuracy/spearman_ci_high": 0.85,
    }
