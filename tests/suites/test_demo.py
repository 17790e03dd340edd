"""The demo's suite: round 2 of the support tickets, where helpbot-large regresses on Tone for
enterprise customers; the gate catches it, and only it."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from evalplatform.demo.loader import load_demo
from evalplatform.demo.rounds import ROUND_2, SUITE_SLUG
from evalplatform.reports import services
from evalplatform.suites.models import RoundAnchor, Suite

pytestmark = pytest.mark.django_db


def gate(*args) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("gate", "--suite", SUITE_SLUG, "--format", "json", "--bootstrap", "200", *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = int(exc.code)
    return code, json.loads(out.getvalue())


def test_the_demo_suite_has_a_second_round_where_one_model_regresses_on_tone_for_one_tier():
    load_demo()
    load_demo()  # idempotent
    suite = Suite.objects.get(slug=SUITE_SLUG)
    assert [r.project.slug for r in suite.rounds.order_by("number")] == ["support-demo", ROUND_2]
    assert RoundAnchor.objects.filter(round__suite=suite).count() == 6
    code, verdict = gate("--champion", "helpbot-large@1", "--challenger", "helpbot-large@2", "--subgroup", "tier")
    assert code == 1, verdict["reasons"]
    failed = {t["label"] for t in verdict["tests"] if t["regressed"]}
    assert "tone [tier=enterprise]" in failed
    assert all(label.startswith(("tone", "composite")) for label in failed), failed
    code, verdict = gate("--champion", "helpbot-small@1", "--challenger", "helpbot-small@2", "--subgroup", "tier")
    assert code == 0, verdict["reasons"]


def test_the_demo_round_2_report_raises_the_tone_alert():
    load_demo()
    round2 = Suite.objects.get(slug=SUITE_SLUG).rounds.get(number=2).project
    report = services.refresh(project_id=round2.pk)
    assert report.status == "done", report.error
    alerts = report.result["round"]["alerts"]
    assert any(a["dimension"] == "tone" and "helpbot-large" in a["message"] for a in alerts), alerts
    assert report.result["composite"]["weights"]["accuracy"] == pytest.approx(0.4)
