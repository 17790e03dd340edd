"""Per-project tracking settings: validated (URI scheme, lengths, no credentials), set from the page and
the API by leads only, falling back to the environment; logged runs go where they say."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from mlflow.tracking import MlflowClient
from rest_framework.test import APIClient

from evalplatform.reports import tracking
from evalplatform.reports.models import TrackingSettings
from evalplatform.reports.services import compute, create_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def clean_env(monkeypatch):
    for name in tracking.SETTING_ENV.values():
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_settings_fall_back_to_the_environment_then_the_defaults(make_project, clean_env, monkeypatch, var_dir):
    project = make_project("fallback")
    effective = tracking.effective_settings(project)
    assert effective["mlflow_tracking_uri"] == tracking.Setting((var_dir / "mlruns").as_uri(), "default")
    assert effective["wandb_project"] == tracking.Setting("evalplatform-fallback", "default")
    monkeypatch.setenv("WANDB_PROJECT", "team-evals")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    tracking.update_tracking_settings(project=project, mlflow_experiment="  support bots  ")
    effective = tracking.effective_settings(project)
    assert effective["wandb_project"] == tracking.Setting("team-evals", "environment")
    assert effective["mlflow_experiment"] == tracking.Setting("support bots", "project")
    tracking.update_tracking_settings(project=project, mlflow_experiment="")  # empty: back to the environment
    assert tracking.effective_settings(project)["mlflow_experiment"] == tracking.Setting("from-env", "environment")


@pytest.mark.parametrize(("field", "value", "why"), [
    ("mlflow_tracking_uri", "postgresql://db/mlflow", "scheme postgresql:, which is not allowed"),
    ("mlflow_tracking_uri", "/srv/mlruns", r"scheme \(none\), which is not allowed"),
    ("mlflow_tracking_uri", "https://alice:s3cret@mlflow.example.org", "holds credentials"),
    ("mlflow_tracking_uri", "https://mlflow.example.org/?token=abc", "looks like a secret"),
    ("mlflow_tracking_uri", "https:///nohost", "no host name"),
    ("mlflow_tracking_uri", "file:///etc/mlruns", "outside the server's data directory"),
    ("mlflow_tracking_uri", "https://example.org/" + "a" * 500, "over the limit of 500"),
    ("mlflow_experiment", "two\nlines", "control character"),
    ("wandb_project", "team/evals", "cannot hold /"),
    ("wandb_project", "x" * 129, "over the limit of 128"),
    ("wandb_entity", "my team", "letters, digits"),
])
def test_bad_settings_are_refused_with_the_reason_and_nothing_is_stored(make_project, var_dir, field, value, why):
    project = make_project("refused")
    tracking.update_tracking_settings(project=project, wandb_project="kept", mlflow_experiment="kept")
    good = {"wandb_project": "changed"} if field != "wandb_project" else {"mlflow_experiment": "changed"}
    with pytest.raises(tracking.TrackingSettingsError) as caught:
        tracking.update_tracking_settings(project=project, **good, **{field: value})
    assert list(caught.value.message_dict) == [field]
    assert re.search(why, caught.value.message_dict[field][0])
    stored = TrackingSettings.objects.get(project=project)
    assert (stored.wandb_project, stored.mlflow_experiment) == ("kept", "kept")


def test_good_settings_are_accepted(make_project, var_dir):
    project = make_project("accepted")
    stored = tracking.update_tracking_settings(
        project=project, mlflow_tracking_uri="https://mlflow.example.org:5000/", mlflow_experiment="Support / v2",
        wandb_project="support-evals", wandb_entity="acme_ml",
    )
    assert stored.mlflow_tracking_uri == "https://mlflow.example.org:5000/"
    for uri in ("databricks", (var_dir / "runs").as_uri(), "http://127.0.0.1:5000"):
        assert tracking.update_tracking_settings(project=project, mlflow_tracking_uri=uri).mlflow_tracking_uri == uri


def test_the_api_reads_and_changes_them_for_leads_only(make_project, lead, clean_env, var_dir):
    from tests.fixtures import UserFactory

    project = make_project("apiset", raters=("rita",))
    url = reverse("api-project-tracking", args=[project.pk])
    api = APIClient()
    api.force_authenticate(lead)
    body = api.get(url).json()
    assert body["wandb_project"] == ""
    assert body["in_force"]["wandb_project"] == {"value": "evalplatform-apiset", "source": "default"}
    answer = api.patch(url, {"wandb_project": "evals", "mlflow_tracking_uri": "ftp://x"}, format="json")
    assert answer.status_code == 400
    assert "ftp:, which is not allowed" in answer.json()["mlflow_tracking_uri"][0]
    assert not TrackingSettings.objects.filter(project=project).exists()
    answer = api.patch(url, {"wandb_project": "evals", "wandb_entity": "acme"}, format="json")
    assert answer.status_code == 200
    assert answer.json()["in_force"]["wandb_project"] == {"value": "evals", "source": "project"}
    assert api.patch(url, {"wandb_entity": "x" * 129}, format="json").status_code == 400

    from django.contrib.auth import get_user_model

    rater = get_user_model().objects.get(username="rita")
    api.force_authenticate(rater)
    assert api.get(url).status_code == 403
    api.force_authenticate(UserFactory(username="stranger"))
    assert api.get(url).status_code == 404
    assert api.patch(url, {"wandb_project": "p"}, format="json").status_code == 404
    assert TrackingSettings.objects.get(project=project).wandb_entity == "acme"


def test_the_page_saves_them_and_shows_errors_on_their_field(make_project, client, lead, clean_env, var_dir):
    project = make_project("pageset")
    page = reverse("report-tracking", args=[project.slug])
    client.force_login(lead)
    assert "evalplatform-pageset" in client.get(page).content.decode()
    answer = client.post(page, {"mlflow_tracking_uri": "https://u:p@mlflow.example.org", "wandb_project": "ok"})
    assert answer.status_code == 400
    assert "holds credentials" in answer.content.decode()
    assert "u:p@" not in answer.content.decode().split('id="id_mlflow_tracking_uri"')[1]  # the error does not echo it
    assert not TrackingSettings.objects.filter(project=project).exists()
    answer = client.post(page, {"mlflow_experiment": "Support bots", "wandb_project": "support"})
    assert answer.status_code == 302
    shown = client.get(page).content.decode()
    assert "Support bots" in shown
    assert "this project" in shown
    assert f'href="{page}"' in client.get(reverse("report", args=[project.slug])).content.decode()  # the lead nav


def test_a_run_goes_to_the_projects_own_mlflow_store_and_experiment(rated_project, clean_env, var_dir):
    project = rated_project("ownstore", items=3)
    uri = (var_dir / "project-store").as_uri()
    tracking.update_tracking_settings(project=project, mlflow_tracking_uri=uri, mlflow_experiment="support-bots")
    report = compute(report_id=create_report(project=project, bootstrap=20).pk)
    run = tracking.log_report(report, to="mlflow")
    logged = MlflowClient(tracking_uri=uri).get_run(run.run_id)
    assert MlflowClient(tracking_uri=uri).get_experiment(logged.info.experiment_id).name == "support-bots"
