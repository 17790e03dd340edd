"""A new round end to end on PostgreSQL with a real Celery worker: the round's import and ratings, the
worker's debounced report (with the drift section), the signed "report ready" webhook the worker
sends to a receiver here, and the gate's exit status on the round the report covers."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from evalplatform.reports.models import AgreementReport
from evalplatform.suites.models import WebhookDelivery
from tests.integration.test_report_worker import wait_for
from tests.suites.conftest import suite_world  # noqa: F401  (a fixture)
from tests.suites.test_reports_and_webhooks import SECRET, Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_new_round_import_worker_report_webhook_and_gate(suite_world, start_worker):  # noqa: F811
    worker = start_worker()
    with Receiver() as receiver:
        # Round 1 and round 2 (new responses, an anchor set) imported and rated through the services;
        # each ratings import schedules a refresh that goes through Redis to the worker.
        suite, _r1, r2 = suite_world(n=40, anchors=6, webhook_url=receiver.url, webhook_secret=SECRET,
                                     regress={"model": "bot", "dimension": "tone", "tier": "enterprise", "by": 1.2})
        r2.project.refresh_from_db()

        def current_report():
            return AgreementReport.objects.filter(project=r2.project, status="done",
                                                  data_seq=r2.project.ratings_seq).first()

        report = wait_for(current_report, 120, "the worker's report of round 2")
        wait_for(lambda: any(r["event"] == "round.report_ready" and r["body"]["round"]["number"] == 2
                             for r in receiver.received), 60, "the report-ready webhook")
    ready = next(r for r in receiver.received if r["body"]["round"]["number"] == 2 and r["event"] == "round.report_ready")
    assert ready["valid"]
    assert ready["by_hand"]
    assert ready["body"]["report"]["id"] == report.pk
    assert ready["body"]["report"]["data_seq"] == report.data_seq
    assert "evalplatform.suites.tasks.send_webhook" in worker.log.read_text()
    assert WebhookDelivery.objects.filter(event="round.report_ready", status="sent").exists()
    section = report.result["round"]
    assert section["previous"] == 1
    assert section["anchors"]["dimensions"]
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("gate", "--suite", suite.slug, "--champion", "bot@1", "--challenger", "bot@2",
                     "--format", "json", "--bootstrap", "200", stdout=out)
    assert exit_.value.code == 1
    verdict = json.loads(out.getvalue())
    assert "tone [tier=enterprise]" in {t["label"] for t in verdict["tests"] if t["regressed"]}
