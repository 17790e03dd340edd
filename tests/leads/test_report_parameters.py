"""``manage.py report`` keeps the lead's parameters: the newest report's, unless a flag says otherwise."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from evalplatform.projects.models import Membership
from evalplatform.reports import services
from evalplatform.reports.models import AgreementReport

pytestmark = pytest.mark.django_db


def run(*args) -> dict:
    out = io.StringIO()
    call_command("report", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def lead_report(project, **parameters) -> AgreementReport:
    report = services.create_report(project=project, trigger="manual", **parameters)
    return services.compute(report_id=report.pk)


def test_report_command_keeps_the_leads_parameters(rated_project):
    project = rated_project()
    Membership.objects.filter(project=project, user__username="carol").update(paused=True)
    lead = lead_report(project, include_paused=False, bootstrap=50, seed=9, icc=True)
    result = run("--project", project.slug)
    stored = AgreementReport.objects.exclude(pk=lead.pk).get(project=project)
    assert stored.parameters == lead.parameters
    assert result["parameters"]["include_paused"] is False
    assert result["parameters"]["seed"] == 9
    assert stored.n_ratings == lead.n_ratings  # carol's ratings stay out, as the lead asked
    # ... and the refresh after it follows the same parameters, not the defaults.
    project.refresh_from_db()
    project.ratings_seq += 1
    project.save(update_fields=["ratings_seq"])
    refreshed = services.refresh(project_id=project.pk)
    assert refreshed.parameters == lead.parameters


def test_report_command_flags_override_one_parameter_each(rated_project):
    project = rated_project()
    lead_report(project, include_paused=False, bootstrap=50, seed=9)
    result = run("--project", project.slug, "--include-paused", "--include-gold", "--icc", "--include-automated",
                 "--bootstrap", "20", "--seed", "4")
    expected = {"include_paused": True, "include_gold": True, "icc": True, "include_automated": True,
                "bootstrap": 20, "seed": 4}
    assert {k: result["parameters"][k] for k in expected} == expected
    result = run("--project", project.slug, "--no-include-paused", "--no-icc")
    params = AgreementReport.objects.order_by("-id").first().parameters
    assert params["include_paused"] is False
    assert params["icc"] is False
    # What was not given comes from the newest report, the one just stored.
    assert params["bootstrap"] == 20
    assert params["include_gold"] is True
    assert params["seed"] == 4
    assert result["parameters"]["include_gold"] is True


def test_report_command_without_any_report_uses_the_defaults(rated_project):
    project = rated_project()
    run("--project", project.slug, "--bootstrap", "0")
    params = AgreementReport.objects.get(project=project).parameters
    assert params == {**services.DEFAULT_PARAMETERS, "bootstrap": 0}


def test_report_command_ignores_failed_reports_parameters(rated_project):
    project = rated_project()
    lead_report(project, include_paused=False, bootstrap=0)
    failed = services.create_report(project=project, include_paused=True, include_gold=True, bootstrap=0)
    services.mark_failed(report_id=failed.pk, error="boom")
    run("--project", project.slug)
    params = AgreementReport.objects.order_by("-id").first().parameters
    assert params["include_paused"] is False
    assert params["include_gold"] is False


def test_report_command_refuses_bad_flag_values(rated_project):
    project = rated_project()
    with pytest.raises(CommandError, match="seed"):
        run("--project", project.slug, "--seed", "-1")
