"""Generation runs end to end: the real ``openai`` client against the fake server on the loopback."""

from __future__ import annotations

import io
import threading
from collections import Counter

import pytest
from django.db import connections

from evalplatform.llm import services
from evalplatform.llm.models import Call, Run
from evalplatform.llm.selectors import progress_of
from evalplatform.projects.models import Response, Task
from evalplatform.projects.services import create_project, import_items
from tests.fixtures import items_jsonl

pytestmark = pytest.mark.django_db


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_run_stores_each_response_with_its_call_and_makes_tasks(project_with_items, make_endpoint, fake_llm, lead):
    project = project_with_items(5)
    endpoint = make_endpoint("drafter", price_input_per_million=2, price_output_per_million=10, temperature=0.2, seed=7)
    run = services.start_generation(project=project, endpoints=[endpoint], template="Ticket {external_id}: {prompt}",
                                    user=lead)
    run.refresh_from_db()
    assert run.status == Run.Status.DONE  # the test settings run tasks synchronously
    calls = list(Call.objects.filter(run=run).select_related("response", "item"))
    assert len(calls) == 5
    assert {c.status for c in calls} == {"done"}
    said = {r.messages[-1]["content"]: r for r in fake_llm.control.answered()}
    for call in calls:
        record = said[f"Ticket {call.item.external_id}: {call.item.prompt}"]
        assert call.response.text == record.content
        assert call.response.model == "drafter"
        assert call.model_name == "fake-drafter"
        assert call.parameters == {"temperature": 0.2, "max_tokens": 512, "seed": 7}
        assert call.prompt_tokens > 0
        assert call.completion_tokens > 0
        assert call.latency_ms is not None
        expected = (call.prompt_tokens * 2 + call.completion_tokens * 10) / 1_000_000
        assert float(call.cost) == pytest.approx(expected)
        assert Task.objects.filter(response_a=call.response, response_b__isnull=True).count() == 1
    assert record.authorization == "Bearer no-key"  # no secret configured: a placeholder, never empty


def test_two_hundred_items_two_endpoints_hold_limits_and_survive_429_and_500(
    project_with_items, make_endpoint, fake_llm, monkeypatch, transactional_db
):
    project = project_with_items(200)
    fast = make_endpoint("fast", requests_per_minute=3000, max_concurrency=3)  # 50/s
    slow = make_endpoint("slow", requests_per_minute=2400, max_concurrency=2)  # 40/s
    fake_llm.control.delay = 0.02
    fake_llm.control.add("throttle", model="fake-fast", every=7, retry_after=0.05)
    fake_llm.control.add("fail", model="fake-slow", every=11)
    monkeypatch.setattr(services, "_enqueue_workers", lambda run_id: None)
    run = services.start_generation(project=project, endpoints=[fast, slow])
    def worker():
        try:
            services.process_run(run_id=run.pk)
        finally:
            connections.close_all()  # each thread opened its own connection (else it outlives the test database)

    workers = [threading.Thread(target=worker) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    run.refresh_from_db()
    assert run.status == Run.Status.DONE
    progress = progress_of([run])[run.pk]
    assert progress["done"] == 400
    assert progress["failed"] == 0
    assert progress["invalid"] == 0
    # No duplicate and no lost response: one per (item, endpoint), each the text the server answered.
    per_item = Counter(Response.objects.filter(item__project=project, model__in=["fast", "slow"]).values_list("item_id", "model"))
    assert len(per_item) == 400
    assert set(per_item.values()) == {1}
    faults = Counter((r.model, r.fault) for r in fake_llm.control.records if r.fault)
    assert faults[("fake-fast", "throttle")] > 10
    assert faults[("fake-slow", "fail")] > 10
    for model, name, per_second, concurrency in (("fake-fast", "fast", 50, 3), ("fake-slow", "slow", 40, 2)):
        starts = [r.started for r in fake_llm.control.records if r.model == model]
        assert max_in_window(starts, 1.0) <= per_second + 1, model
        assert fake_llm.control.max_in_flight[model] <= concurrency
        answers = {r.messages[-1]["content"]: r.content for r in fake_llm.control.answered(model)}
        stored = dict(Response.objects.filter(item__project=project, model=name).values_list("item__prompt", "text"))
        assert stored == answers
    assert Task.objects.filter(project=project).count() == 600


def test_cancel_then_resume_finishes_without_duplicates(project_with_items, make_endpoint, fake_llm, monkeypatch):
    project = project_with_items(12)
    endpoint = make_endpoint("drafter")
    enqueue_workers = services._enqueue_workers
    monkeypatch.setattr(services, "_enqueue_workers", lambda run_id: None)
    run = services.start_generation(project=project, endpoints=[endpoint])
    for _ in range(5):  # a worker gets through five calls, then the lead cancels
        call = services._claim(run.pk, endpoint)
        services.execute_call(call=call, endpoint=endpoint, slot=None, run=run)
    services.cancel_run(run=run)
    assert Counter(Call.objects.filter(run=run).values_list("status", flat=True)) == {"done": 5, "cancelled": 7}
    assert services.process_run(run_id=run.pk) == 0  # a cancelled run makes no call
    monkeypatch.setattr(services, "_enqueue_workers", enqueue_workers)
    run = services.resume_run(run=run)
    assert run.status == Run.Status.DONE
    assert Response.objects.filter(item__project=project, model="drafter").count() == 12
    assert len(fake_llm.control.answered()) == 12  # the five done before the cancel were not asked again


def test_a_repeated_call_stores_no_second_response(project_with_items, make_endpoint, monkeypatch):
    project = project_with_items(1)
    endpoint = make_endpoint("drafter")
    monkeypatch.setattr(services, "_enqueue_workers", lambda run_id: None)
    run = services.start_generation(project=project, endpoints=[endpoint])
    call = services._claim(run.pk, endpoint)
    services.execute_call(call=call, endpoint=endpoint, slot=None, run=run)
    # The worker died after storing but the lease lapsed: another worker runs the same call again.
    Call.objects.filter(pk=call.pk).update(status=Call.Status.RUNNING)
    services.execute_call(call=call, endpoint=endpoint, slot=None, run=run)
    assert Response.objects.filter(item__project=project, model="drafter").count() == 1
    assert Call.objects.get(pk=call.pk).response is not None


def test_identical_requests_are_answered_from_the_cache(rubric_version, project_with_items, make_endpoint, fake_llm):
    first = project_with_items(4)
    endpoint = make_endpoint("drafter", price_input_per_million=1, price_output_per_million=1)
    services.start_generation(project=first, endpoints=[endpoint])
    assert len(fake_llm.control.records) == 4
    again = create_project(slug="again", name="Again", rubric_version=rubric_version)
    import_items(project=again, stream=io.BytesIO(items_jsonl(4)), fmt="jsonl")
    run = services.start_generation(project=again, endpoints=[endpoint])
    assert len(fake_llm.control.records) == 4  # nothing asked twice
    calls = Call.objects.filter(run=run)
    assert all(c.cached and c.cost == 0 for c in calls)
    texts = lambda p: sorted(Response.objects.filter(item__project=p, model="drafter").values_list("text", flat=True))  # noqa: E731
    assert texts(again) == texts(first)
    # A second run on a project that has the responses asks nothing and has nothing to do.
    rerun = services.start_generation(project=first, endpoints=[endpoint])
    assert rerun.status == Run.Status.DONE
    assert not rerun.calls.exists()


def test_items_that_already_have_the_endpoints_response_are_left_out(project_with_items, make_endpoint):
    project = project_with_items(3, models=("drafter",))
    run = services.start_generation(project=project, endpoints=[make_endpoint("drafter")])
    assert run.calls.count() == 0


@pytest.mark.parametrize("template, message", [
    ("{prompt} {colour}", "unknown field(s) colour"),
    ("{prompt} {metadata[missing]}", "item 't-0001': KeyError 'missing'"),
    ("{prompt", "the template is not valid"),
    ("{}", "positional field"),
    ("   ", "the template is empty"),
])
def test_a_template_that_does_not_fit_is_refused_whole(project_with_items, make_endpoint, template, message):
    project = project_with_items(3)
    with pytest.raises(services.RunError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        services.start_generation(project=project, endpoints=[make_endpoint()], template=template)
    assert not Run.objects.exists()
    assert not Call.objects.exists()


def test_metadata_fields_reach_the_prompt(project_with_items, make_endpoint, fake_llm):
    project = project_with_items(2)
    services.start_generation(project=project, endpoints=[make_endpoint()], template="[{metadata[topic]}] {prompt}")
    sent = sorted(r.messages[-1]["content"] for r in fake_llm.control.answered())
    assert sent == ["[billing] Prompt 1", "[tech] Prompt 2"]


def test_unknown_items_and_missing_keys_are_refused(project_with_items, make_endpoint, monkeypatch):
    project = project_with_items(2)
    with pytest.raises(services.RunError, match="no item"):
        services.start_generation(project=project, endpoints=[make_endpoint()], items=["t-0001", "nope"])
    monkeypatch.delenv("FAKE_LLM_KEY", raising=False)
    keyed = make_endpoint("keyed", api_key_env="FAKE_LLM_KEY")
    with pytest.raises(services.RunError, match="FAKE_LLM_KEY is not set"):
        services.start_generation(project=project, endpoints=[keyed])
    with pytest.raises(services.RunError, match="at least one"):
        services.start_generation(project=project, endpoints=[])
    assert not Run.objects.exists()


def test_a_call_the_endpoint_refuses_fails_with_the_reason_and_resume_retries_it(project_with_items, make_endpoint, fake_llm):
    project = project_with_items(2)
    endpoint = make_endpoint("drafter", max_retries=2)
    fake_llm.control.add("fail", count=3)  # the first call's three attempts
    run = services.start_generation(project=project, endpoints=[endpoint])
    failed = Call.objects.get(run=run, status=Call.Status.FAILED)
    assert failed.error == "HTTP 500: injected failure"
    assert failed.response is None
    assert run.calls.filter(status=Call.Status.DONE).count() == 1
    run = services.resume_run(run=run)
    assert run.status == Run.Status.DONE
    assert run.calls.filter(status=Call.Status.DONE).count() == 2
