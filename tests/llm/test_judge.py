"""Judge runs end to end: the rubric becomes a prompt, the fake server's JSON becomes automated ratings."""

from __future__ import annotations

import json

import pytest

from evalplatform.llm import prompts, services
from evalplatform.llm.models import Call, Run
from evalplatform.llm.selectors import progress_of
from evalplatform.ratings.models import Rating, Score
from evalplatform.reports import compute
from evalplatform.reports.data import load_data
from tests.fixtures import next_assignment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_report_refresh")]


def stored_answers(project, judge: str) -> dict[int, dict]:
    """task id -> {dimension key: value or text, "justification": ...} of the judge's ratings."""
    out: dict[int, dict] = {}
    for rating in Rating.objects.filter(project=project, rater__username=judge).prefetch_related("scores__dimension"):
        values = {s.dimension.key: (s.text if s.value is None else s.value) for s in rating.scores.all()}
        out[rating.task_id] = {**values, "justification": rating.justification}
    return out


def said(fake_llm, model: str) -> dict[int, dict]:
    """task id -> the answer the server gave (the task's id travels in the prompt's response text)."""
    out = {}
    for record in fake_llm.control.answered(model):
        answer = json.loads(record.content)
        scores = {k: v for k, v in answer["scores"].items() if v is not None}
        out[record.messages[-1]["content"]] = {**scores, "justification": answer["justification"]}
    return out


@pytest.mark.parametrize("structured", [True, False], ids=["json_schema", "json_mode"])
def test_judge_ratings_equal_what_the_server_said(project_with_items, make_endpoint, fake_llm, structured):
    project = project_with_items(12)
    endpoint = make_endpoint("critic", supports_json_schema=structured, price_input_per_million=3,
                             price_output_per_million=15)
    run = services.start_judge(project=project, endpoints=[endpoint])
    assert run.status == Run.Status.DONE
    answered = fake_llm.control.answered("fake-critic")
    assert len(answered) == 12
    kind = answered[0].response_format["type"]
    assert kind == ("json_schema" if structured else "json_object")
    stored = stored_answers(project, "judge:critic")
    assert len(stored) == 12
    by_prompt = said(fake_llm, "fake-critic")
    for call in Call.objects.filter(run=run).select_related("task__item", "task__response_a"):
        messages, _ = prompts.judge_messages(run.prompt_template, project, call.task)
        expected = by_prompt[messages[-1]["content"]]
        harmless = expected.pop("harmless")
        got = stored[call.task_id]
        assert got.pop("harmless") == int(harmless)
        assert got == expected
        assert call.status == Call.Status.DONE
        assert call.rating.rater.username == "judge:critic"
        assert call.cost > 0
    judge = Rating.objects.filter(rater__username="judge:critic").first().rater
    assert judge.is_automated
    assert not judge.is_active


def test_the_prompt_carries_the_rubric_anchors_and_the_reference_when_shown(project_with_items, make_endpoint, fake_llm):
    project = project_with_items(1)
    item = project.items.get()
    item.reference = "Refund within 5 days."
    item.save()
    services.start_judge(project=project, endpoints=[make_endpoint("critic")])
    (record,) = fake_llm.control.answered()
    text = record.messages[-1]["content"]
    assert "Rate **each** draft." in text  # the guidelines
    assert "## Accuracy (key \"accuracy\"; required)" in text
    assert "- 1 = Wrong" in text
    assert "- 5 = Fully right" in text
    assert "Refund within 5 days." in text
    assert "Answer 1 from human" in text
    schema = record.response_format["json_schema"]["schema"]
    assert schema["properties"]["scores"]["properties"]["accuracy"] == {"enum": [1, 2, 3, 4, 5]}
    assert schema["properties"]["scores"]["properties"]["topic"]["enum"][-1] is None  # optional: nullable
    project.show_reference = False
    project.save()
    task = project.tasks.get()
    messages, _ = prompts.judge_messages(prompts.DEFAULT_JUDGE_TEMPLATE, project, task)
    assert "Refund within 5 days." not in messages[-1]["content"]


def test_malformed_and_off_scale_outputs_are_counted_kept_and_not_stored(project_with_items, make_endpoint, fake_llm):
    project = project_with_items(12)
    fake_llm.control.add("malformed", every=4)
    fake_llm.control.add("off_scale", every=5)
    run = services.start_judge(project=project, endpoints=[make_endpoint("critic", supports_json_schema=False)])
    progress = progress_of([run])[run.pk]
    faults = [r.fault for r in fake_llm.control.answered()]
    assert progress["invalid"] == faults.count("malformed") + faults.count("off_scale") > 0
    assert progress["done"] == faults.count("")
    assert progress["done"] + progress["invalid"] == 12
    invalid = Call.objects.filter(run=run, status=Call.Status.INVALID)
    assert {c.rating_id for c in invalid} == {None}
    reasons = {c.error.split(" (")[0] for c in invalid}
    assert any("not valid JSON" in r for r in reasons)
    assert any("999 is off the scale" in c.error for c in invalid)
    assert all(c.output for c in invalid)  # the raw output is kept for the lead to read
    assert Rating.objects.filter(rater__username="judge:critic").count() == progress["done"]
    assert not Score.objects.filter(rating__task_id__in=[c.task_id for c in invalid], rating__rater__username="judge:critic").exists()


def test_judge_ratings_are_never_served_and_take_no_place(project_with_items, make_endpoint, add_rater):
    project = project_with_items(3)
    services.start_judge(project=project, endpoints=[make_endpoint("critic")])
    assert project.tasks.filter(claimed_count=0, rated_count=0).count() == 3
    rater = add_rater(project)
    assignment = next_assignment(project=project, rater=rater)
    assert assignment is not None  # the task a judge rated still waits for its human raters
    # A second judge run leaves out the tasks the judge has rated.
    again = services.start_judge(project=project, endpoints=[make_endpoint("critic2", model="fake-critic")])
    assert again.calls.count() == 3
    rerun = services.start_judge(project=project, endpoints=[Call.objects.filter(endpoint__name="critic").first().endpoint])
    assert rerun.calls.count() == 0
    assert rerun.status == Run.Status.DONE


def test_pairwise_tasks_are_judged_per_pair(pairwise_version, lead, make_endpoint, fake_llm):
    import io

    from evalplatform.projects.services import create_project, import_items
    from tests.fixtures import items_jsonl

    project = create_project(slug="duel", name="Duel", rubric_version=pairwise_version, kind="pairwise", created_by=lead)
    import_items(project=project, stream=io.BytesIO(items_jsonl(4, models=("m1", "m2"))), fmt="jsonl")
    run = services.start_judge(project=project, endpoints=[make_endpoint("critic")])
    assert progress_of([run])[run.pk]["done"] == 4
    for record in fake_llm.control.answered():
        assert "## Response A" in record.messages[-1]["content"]
    values = dict(Score.objects.filter(rating__rater__username="judge:critic").values_list("rating__task_id", "value"))
    answers = [json.loads(r.content)["scores"]["preference"] for r in fake_llm.control.answered()]
    assert sorted(values.values()) == sorted(answers)


def test_a_human_account_named_like_the_judge_is_refused(project_with_items, make_endpoint):
    from tests.fixtures import UserFactory

    UserFactory(username="judge:critic")
    with pytest.raises(services.RunError, match="human rater"):
        services.start_judge(project=project_with_items(1), endpoints=[make_endpoint("critic")])
    assert not Run.objects.exists()


def test_the_report_shows_the_judge_run_its_prompt_version_and_cost(project_with_items, make_endpoint, add_rater):
    project = project_with_items(3)
    run = services.start_judge(project=project, endpoints=[make_endpoint("critic", price_input_per_million=1000)])
    section = next(s for s in compute.SECTIONS if s.key == "judge_runs")
    (row,) = section.build(project, {}, load_data(project, {}))
    assert row["judge"] == "judge:critic"
    assert row["run"] == run.pk
    assert row["prompt_version"] == run.prompt_version
    assert row["prompt_version"].startswith(f"judge-rv{project.rubric_version_id}-")
    assert row["rated"] == 3
    assert row["invalid"] == 0
    assert row["cost"] > 0


@pytest.mark.parametrize("content, reason", [
    ("", "empty"),
    ("I think it is a 4.", "no JSON object"),
    ('["accuracy", 4]', "not a JSON object"),
    ('{"scores": [4, 3]}', "not an object"),
])
def test_tolerant_parsing_refuses_what_is_not_an_answer(content, reason):
    with pytest.raises(prompts.OutputError, match=reason):
        prompts.parse_judge_output(content)


def test_tolerant_parsing_reads_fenced_and_flat_answers():
    scores, why = prompts.parse_judge_output('Sure!\n```json\n{"scores": {"accuracy": 4}, "justification": "ok"}\n```')
    assert scores == {"accuracy": 4}
    assert why == "ok"
    assert prompts.parse_judge_output('{"accuracy": 2, "reasoning": "meh"}') == ({"accuracy": 2}, "meh")


def test_a_refused_judge_start_creates_no_account(project_with_items, make_endpoint, rubric_version):
    from django.contrib.auth import get_user_model

    from evalplatform.projects.services import create_project

    empty = create_project(slug="empty", name="Empty", rubric_version=rubric_version)
    with pytest.raises(services.RunError, match="no tasks"):
        services.start_judge(project=empty, endpoints=[make_endpoint("critic")])
    assert not get_user_model().objects.filter(username="judge:critic").exists()


def test_an_endpoint_without_structured_output_falls_back_to_json_mode(project_with_items, make_endpoint, fake_llm):
    fake_llm.control.add("no_schema")
    run = services.start_judge(project=project_with_items(2), endpoints=[make_endpoint("critic")])
    assert progress_of([run])[run.pk]["done"] == 2
    kinds = [(r.status, (r.response_format or {}).get("type")) for r in fake_llm.control.records]
    assert kinds.count((400, "json_schema")) == 2
    assert kinds.count((200, "json_object")) == 2
