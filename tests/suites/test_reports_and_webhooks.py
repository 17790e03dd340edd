"""What a round's report adds (composite, drift, anchor and rater drift, alerts), the trends read from
the reports, and the signed webhook a test receiver verifies."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from rest_framework.test import APIClient

from evalplatform.reports import services as reports
from evalplatform.suites import webhooks
from evalplatform.suites.models import WebhookDelivery
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-tests"


def compute(project, capture):
    with capture(execute=True):
        report = reports.request_report(project=project, bootstrap=100)
    report.refresh_from_db()
    assert report.status == "done", report.error
    return report


class Receiver:
    """A webhook receiver on an ephemeral port that checks every request's signature like a real one."""

    def __init__(self, status: int = 200):
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = webhooks.verify(SECRET, body, self.headers["X-Eval-Timestamp"], self.headers["X-Eval-Signature"])
                # the signature by hand, as a receiver in another language would compute it
                mac = hmac.new(SECRET.encode(), self.headers["X-Eval-Timestamp"].encode() + b"." + body, hashlib.sha256)
                receiver.received.append({"event": self.headers["X-Eval-Event"], "valid": ok,
                                          "by_hand": "sha256=" + mac.hexdigest() == self.headers["X-Eval-Signature"],
                                          "body": json.loads(body)})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_round_report_has_the_composite_and_the_drift_since_the_previous_round(suite_world, django_capture_on_commit_callbacks):
    _suite, _r1, r2 = suite_world(n=40, anchors=8, regress={"model": "bot", "dimension": "tone", "tier": None, "by": 1.5})
    result = compute(r2.project, django_capture_on_commit_callbacks).result
    composite = {m["model"]: m for m in result["composite"]["models"]}
    assert "bot" in composite
    assert set(composite) <= {"bot", "bot@r1", "base@r1"}
    assert 0 <= composite["bot"]["ci95"][0] <= composite["bot"]["mean"] <= composite["bot"]["ci95"][1] <= 1
    assert result["composite"]["weights"] == {"accuracy": 0.5, "tone": 0.25, "harmless": 0.25}
    section = result["round"]
    assert (section["round"], section["previous"]) == (2, 1)
    tone = next(d for m in section["models"] if m["model"] == "bot" for d in m["dimensions"] if d["dimension"] == "tone")
    assert tone["psi"] > 0.25
    assert tone["mean_after"] < tone["mean_before"] - 1
    assert any(a["kind"] == "distribution" and a["dimension"] == "tone" for a in section["alerts"])
    # the anchor set was rated by the same (unchanged) panel: no anchor or rater alert
    assert section["anchors"]["dimensions"]
    assert not [a for a in section["alerts"] if a["kind"] in ("anchor", "rater")]


def test_a_rater_who_drifts_is_told_apart_from_the_model(suite_world, django_capture_on_commit_callbacks):
    _suite, _r1, r2 = suite_world(n=30, anchors=10, rater_offset={"carol": 1.5})
    section = compute(r2.project, django_capture_on_commit_callbacks).result["round"]
    raters = {r["rater"]: r for r in section["anchors"]["raters"]}
    assert raters["carol"]["shift"] > 0.75
    assert abs(raters["alice"]["shift"]) < 0.5
    rater_alerts = [a for a in section["alerts"] if a["kind"] == "rater"]
    assert [a["subject"] for a in rater_alerts] == ["carol"]


def test_gold_items_are_copied_and_a_rater_whose_gold_accuracy_falls_is_flagged(
    suite_world, django_capture_on_commit_callbacks
):
    _suite, r1, r2 = suite_world(n=20, anchors=2, gold=4, rater_offset={"alice": -2.5})
    copies = r2.project.tasks.filter(is_gold=True).select_related("response_a")
    assert copies.count() == 4
    assert {t.response_a.model for t in copies} == {"bot@r1"}
    originals = {t.response_a.text for t in r1.project.tasks.filter(is_gold=True).select_related("response_a")}
    assert {t.response_a.text for t in copies} == originals
    section = compute(r2.project, django_capture_on_commit_callbacks).result["round"]
    gold = {row["rater"]: row for row in section["gold"]}
    assert gold["alice"]["before"] == 1.0
    assert gold["alice"]["after"] <= 0.5
    assert gold["alice"]["n_after"] == 4
    assert any(a["kind"] == "rater" and a["subject"] == "alice" and "gold accuracy" in a["message"]
               for a in section["alerts"])
    assert not any("gold" in a["message"] and a["subject"] == "bob" for a in section["alerts"])


def test_trends_read_every_rounds_report_as_json_and_csv(suite_world, django_capture_on_commit_callbacks):
    suite, r1, r2 = suite_world(n=20, anchors=0)
    client = APIClient()
    client.force_authenticate(UserFactory(username="lead"))
    assert client.get(f"/api/suites/{suite.pk}/trends/").json()["rounds_without_report"] == [1, 2]
    compute(r1.project, django_capture_on_commit_callbacks)
    compute(r2.project, django_capture_on_commit_callbacks)
    data = client.get(f"/api/suites/{suite.pk}/trends/").json()
    points = [p for p in data["points"] if p["model"] == "bot" and p["dimension"] == "tone" and p["subgroup_field"] is None]
    assert [p["round"] for p in points] == [1, 2]
    assert all(p["ci_low"] <= p["mean"] <= p["ci_high"] for p in points)
    assert any(p["dimension"] == "composite" for p in data["points"])
    assert any(p["subgroup_field"] == "tier" and p["subgroup_value"] == "enterprise" for p in data["points"])
    answer = client.get(f"/api/suites/{suite.pk}/trends/?format=csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert answer["Content-Type"].startswith("text/csv")
    assert len(rows) == len(data["points"])
    page = client.get(f"/suites/{suite.slug}/")
    assert page.status_code == 302  # pages need the session login
    client.force_login(UserFactory(username="lead"))
    html = client.get(f"/suites/{suite.slug}/").content.decode()
    assert 'id="suite-trends"' in html
    assert "Round" in html


def test_the_report_ready_webhook_is_signed_and_verified_by_the_receiver(suite_world, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        suite, _r1, r2 = suite_world(n=20, anchors=4, webhook_url="", webhook_secret="")
        suite.webhook_url, suite.webhook_secret = receiver.url, SECRET
        suite.save()
        compute(r2.project, django_capture_on_commit_callbacks)
    events = [r["event"] for r in receiver.received]
    assert events[0] == "round.report_ready"
    first = receiver.received[0]
    assert first["valid"]
    assert first["by_hand"]
    assert first["body"]["suite"]["slug"] == suite.slug
    assert first["body"]["round"]["number"] == 2
    assert first["body"]["gate_api_url"] == f"/api/suites/{suite.pk}/gate/"
    delivery = WebhookDelivery.objects.filter(event="round.report_ready").get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("sent", 1, 200)


def test_a_forged_or_stale_signature_fails_verification():
    body = b'{"event":"round.report_ready"}'
    good = webhooks.sign(SECRET, body, "1000")
    assert webhooks.verify(SECRET, body, "1000", good, now=1000)
    assert not webhooks.verify(SECRET, body + b" ", "1000", good, now=1000)
    assert not webhooks.verify("other", body, "1000", good, now=1000)
    assert not webhooks.verify(SECRET, body, "1000", good, now=1000 + 3600)
    assert not webhooks.verify(SECRET, body, "soon", good, now=1000)


def test_a_receiver_that_refuses_is_recorded_as_failed(suite_world, django_capture_on_commit_callbacks):
    with Receiver(status=500) as receiver:
        suite, _r1, r2 = suite_world(n=10, anchors=0)
        suite.webhook_url, suite.webhook_secret = receiver.url, SECRET
        suite.save()
        compute(r2.project, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(event="round.report_ready")
    assert delivery.status == "failed"
    assert "HTTP 500" in delivery.error
    assert receiver.received


def test_no_webhook_is_sent_for_a_project_outside_suites_or_without_a_url(suite_world, django_capture_on_commit_callbacks):
    _suite, _r1, r2 = suite_world(n=10, anchors=0)
    compute(r2.project, django_capture_on_commit_callbacks)
    assert not WebhookDelivery.objects.exists()
