"""``manage.py gate`` and ``GET /api/suites/{id}/gate/``: the same verdict, exit 0/1/2 with reasons."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db
TONE_DROP = {"model": "bot", "dimension": "tone", "tier": "enterprise", "by": 1.0}


def gate(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("gate", *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = int(exc.code)
    return code, out.getvalue()


def test_no_change_passes_with_exit_0(suite_world):
    suite, _r1, _r2 = suite_world(n=60)
    code, out = gate("--suite", suite.slug, "--champion", "bot@1", "--challenger", "bot@2", "--bootstrap", "200")
    assert code == 0, out
    assert out.startswith("gate PASS (exit 0): challenger bot@2 vs champion bot@1 on 60 shared items")


def test_a_regression_in_one_tier_fails_with_exit_1_and_names_it(suite_world):
    suite, _r1, _r2 = suite_world(n=60, regress=TONE_DROP)
    code, out = gate("--suite", suite.slug, "--champion", "bot@1", "--challenger", "bot", "--format", "json",
                     "--bootstrap", "200")
    assert code == 1
    verdict = json.loads(out)
    assert verdict["verdict"] == "fail"
    assert verdict["exit_code"] == 1
    assert verdict["challenger"] == {"model": "bot", "round": 2, "project": "tickets-round-2"}
    failed = [t["label"] for t in verdict["tests"] if t["regressed"]]
    assert "tone [tier=enterprise]" in failed
    assert not any(label.startswith(("accuracy", "harmless")) for label in failed)
    assert any("tone [tier=enterprise]" in reason for reason in verdict["reasons"])


def test_a_margin_wider_than_the_drop_passes(suite_world):
    suite, _r1, _r2 = suite_world(n=60, regress={**TONE_DROP, "by": 0.3, "tier": None})
    code, _ = gate("--suite", suite.slug, "--champion", "bot@1", "--challenger", "bot@2", "--dimension", "tone",
                   "--bootstrap", "100")
    assert code == 1
    code, out = gate("--suite", suite.slug, "--champion", "bot@1", "--challenger", "bot@2", "--dimension", "tone",
                     "--margin", "tone=1.5", "--bootstrap", "100")
    assert code == 0, out


def test_the_composite_is_tested_when_the_rubric_has_weights(suite_world):
    suite, _r1, _r2 = suite_world(n=30)
    _code, out = gate("--suite", suite.slug, "--champion", "bot@1", "--challenger", "bot@2", "--format", "json",
                     "--bootstrap", "100")
    verdict = json.loads(out)
    assert verdict["composite_weights"] == {"accuracy": 2.0, "tone": 1.0, "harmless": 1.0}
    assert "composite" in {t["dimension"] for t in verdict["tests"]}


@pytest.mark.parametrize("args, message", [
    (("--champion", "bot@1", "--challenger", "nobody"), "has scores for model 'nobody'"),
    (("--champion", "bot@9", "--challenger", "bot@2"), "no round '9'"),
    (("--champion", "@1", "--challenger", "bot@2"), "round 1 has 2 models"),
    (("--champion", "bot@1", "--challenger", "bot@2", "--dimension", "notes"), "unknown or non-numeric"),
    (("--champion", "bot@1", "--challenger", "bot@2", "--margin", "-1"), "must be a number >= 0"),
    (("--champion", "bot@1", "--challenger", "bot@2", "--alpha", "2"), "alpha must lie"),
    (("--champion", "bot@1", "--challenger", "bot@2", "--min-items", "500"), "share 12 rated items; the gate needs at least 500"),
    (("--champion", "bot@2", "--challenger", "bot@2"), "are the same"),
    # numpy refuses a negative seed with a traceback (was exit 1)
    (("--champion", "bot@1", "--challenger", "bot@2", "--seed", "-1"), "seed must be between 0 and 4294967295"),
])
def test_bad_input_or_too_little_data_exits_2_with_the_reason(suite_world, args, message):
    suite, _r1, _r2 = suite_world(n=12, anchors=0)
    code, out = gate("--suite", suite.slug, *args)
    assert code == 2
    assert message in out


def test_an_unknown_suite_exits_2(db):
    code, out = gate("--suite", "nope", "--champion", "a", "--challenger", "b")
    assert (code, out) == (2, "gate ERROR (exit 2): no suite 'nope'\n")


def test_junit_and_markdown_formats(suite_world):
    suite, _r1, _r2 = suite_world(n=40, regress=TONE_DROP)
    code, out = gate("--suite", suite.slug, "--champion", "bot@1", "--challenger", "bot@2", "--format", "junit",
                     "--bootstrap", "100")
    assert code == 1
    root = ET.fromstring(out.split("?>", 1)[1])  # noqa: S314 (our own output)
    assert root.tag == "testsuite"
    assert int(root.get("failures")) >= 1
    failures = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert "tone [tier=enterprise]" in failures
    code, out = gate("--suite", suite.slug, "--champion", "bot@1", "--challenger", "bot@2", "--format", "markdown",
                     "--bootstrap", "100")
    assert out.startswith("### ❌ gate FAIL (exit 1)")
    assert "| tone [tier=enterprise] |" in out


def test_the_api_answers_the_same_verdict_as_the_command(suite_world):
    suite, _r1, _r2 = suite_world(n=40, regress=TONE_DROP)
    client = APIClient()
    client.force_authenticate(UserFactory(username="lead"))
    url = f"/api/suites/{suite.pk}/gate/?champion=bot@1&challenger=bot@2&bootstrap=100"
    answer = client.get(url)
    assert answer.status_code == 200
    code, out = gate("--suite", suite.slug, "--champion", "bot@1", "--challenger", "bot@2", "--format", "json",
                     "--bootstrap", "100")
    assert answer.json() == json.loads(out)
    assert answer.json()["exit_code"] == code == 1
    bad = client.get(f"/api/suites/{suite.pk}/gate/?champion=bot@1&challenger=bot@2&alpha=7")
    assert bad.status_code == 400
    assert bad.json()["exit_code"] == 2
    assert "alpha" in bad.json()["reasons"][0]
    missing = client.get(f"/api/suites/{suite.pk}/gate/?champion=bot@1")
    assert missing.status_code == 400
    assert "challenger" in missing.json()["reasons"][0]
    junit = client.get(url + "&format=junit")
    assert junit["Content-Type"].startswith("application/xml")
    assert b"<testsuite" in junit.content


def test_the_gate_is_hidden_from_raters_and_strangers(suite_world):
    suite, _r1, _r2 = suite_world(n=12, anchors=0)
    client = APIClient()
    for name in ("alice", "stranger"):
        client.force_authenticate(UserFactory(username=name))
        assert client.get(f"/api/suites/{suite.pk}/gate/?champion=bot@1&challenger=bot@2").status_code == 404
    client.force_authenticate(None)
    assert client.get(f"/api/suites/{suite.pk}/gate/?champion=bot@1&challenger=bot@2").status_code in (401, 403)


def test_a_lead_sets_the_thresholds_and_webhook_over_the_api_and_others_cannot(suite_world):
    suite, _r1, _r2 = suite_world(n=10, anchors=0)
    client = APIClient()
    client.force_authenticate(UserFactory(username="lead"))
    url = f"/api/suites/{suite.pk}/"
    answer = client.patch(url, {"thresholds": {"psi": 0.1, "gold_drop": 0.3}, "webhook_url": "http://127.0.0.1:9/h",
                                "webhook_secret": "k"}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["thresholds"] == {"psi": 0.1, "gold_drop": 0.3}
    assert "webhook_secret" not in answer.json()
    suite.refresh_from_db()
    assert suite.threshold("psi") == 0.1
    assert suite.webhook_secret == "k"
    bad = client.patch(url, {"thresholds": {"psy": 1}}, format="json")
    assert bad.status_code == 400
    assert "unknown threshold" in str(bad.json())
    client.force_authenticate(UserFactory(username="alice"))
    assert client.patch(url, {"thresholds": {"psi": 9}}, format="json").status_code == 404
    suite.refresh_from_db()
    assert suite.threshold("psi") == 0.1


def test_the_command_offers_exactly_the_gates_formats():
    """The command names the formats itself so its --help needn't load the gate (and numpy)."""
    from evalplatform.suites import gate
    from evalplatform.suites.management.commands import gate as command

    assert command.FORMATS == gate.FORMATS
