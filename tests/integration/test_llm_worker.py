"""A generation run on real Celery workers (PostgreSQL, Redis), one of them killed mid-run.

200 items, two endpoints with rate and concurrency limits, the fake server throttling (429) and
failing (500) some requests.  The first worker is SIGKILLed (main process and pool) once about a
third of the responses are stored; its messages are redelivered after the visibility timeout to a
second worker, which takes over the calls whose lease lapsed.  At the end every (item, endpoint) has
exactly one response, each the text the server answered, and the server saw the limits held: the
limits live in Redis, shared by both workers.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from evalplatform.llm import services
from evalplatform.llm.fake_server import FakeLLMServer
from evalplatform.llm.models import Call, Run
from evalplatform.projects.models import Response
from tests.integration.test_report_worker import wait_for
from tests.llm.test_generation import max_in_window

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
VISIBILITY = 8
WORKER_ENV = {"EVAL_TEST_VISIBILITY_TIMEOUT": str(VISIBILITY), "EVAL_LLM_MAX_BACKOFF": "0.5",
              "EVAL_LLM_LEASE_MARGIN": "1", "EVAL_REPORT_REFRESH_DELAY": "3600"}


@pytest.fixture
def fake_llm():
    server = FakeLLMServer().start()
    yield server
    server.stop()


def test_a_run_survives_throttling_failures_and_a_killed_worker(make_project, start_worker, fake_llm, monkeypatch):
    monkeypatch.setattr("evalplatform.reports.services.schedule_refresh", lambda **kwargs: False)
    project = make_project("drafts", items=200)
    limits = {"fast": (1200, 3), "slow": (900, 2)}  # per minute (20/s, 15/s), at once
    endpoints = [services.create_endpoint(name=name, base_url=fake_llm.base_url, model=f"fake-{name}",
                                          requests_per_minute=rate, max_concurrency=conc, timeout_seconds=3)
                 for name, (rate, conc) in limits.items()]
    fake_llm.control.delay = 0.03
    fake_llm.control.add("throttle", model="fake-fast", every=9, retry_after=0.2)
    fake_llm.control.add("fail", model="fake-slow", every=13)

    first = start_worker(concurrency=4, env=WORKER_ENV)
    run = services.start_generation(project=project, endpoints=endpoints)
    stored = lambda: Response.objects.filter(item__project=project, model__in=limits).count()  # noqa: E731
    wait_for(lambda: stored() >= 130, 120, "a third of the responses")
    first.kill()
    killed_at = time.monotonic()
    at_kill = stored()
    held = Call.objects.filter(run=run, status=Call.Status.RUNNING).count()
    assert at_kill < 400
    assert held > 0  # killed mid-run, holding calls
    time.sleep(max(0.0, VISIBILITY + 1 - (time.monotonic() - killed_at)))
    start_worker(concurrency=4, env=WORKER_ENV)
    wait_for(lambda: Run.objects.get(pk=run.pk).status == Run.Status.DONE, 180, "the run to finish")

    assert Counter(Call.objects.filter(run=run).values_list("status", flat=True)) == {"done": 400}
    assert Call.objects.filter(run=run, attempts__gte=2).count() >= held  # the dead worker's calls, taken over
    per_pair = Counter(Response.objects.filter(item__project=project, model__in=limits).values_list("item_id", "model"))
    assert len(per_pair) == 400
    assert set(per_pair.values()) == {1}  # none lost, none twice
    records = fake_llm.control.records
    assert Counter(r.fault for r in records)["throttle"] > 5
    assert Counter(r.fault for r in records)["fail"] > 5
    for name, (rate, concurrency) in limits.items():
        model = f"fake-{name}"
        starts = [r.started for r in records if r.model == model]
        # Arrival at the server trails the slot taken by up to a request's own latency, so two worker
        # processes' arrivals can bunch by one slot more than the slots themselves do.
        assert max_in_window(starts, 1.0) <= rate / 60 + 2, name
        assert fake_llm.control.max_in_flight[model] <= concurrency, name
        answers = {r.messages[-1]["content"]: r.content for r in fake_llm.control.answered(model)}
        texts = dict(Response.objects.filter(item__project=project, model=name).values_list("item__prompt", "text"))
        assert texts == answers
