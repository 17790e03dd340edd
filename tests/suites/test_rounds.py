"""Suites and rounds: a new round is an ordinary project made from the previous one, all or nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from evalplatform.projects.models import Item, Membership, Project, Response, Task
from evalplatform.projects.records import ImportRejected
from evalplatform.suites import services
from evalplatform.suites.models import Round, RoundAnchor, Suite
from rubrics.services import import_rubric
from tests.suites.conftest import WEIGHTED_RUBRIC, items_jsonl

pytestmark = pytest.mark.django_db


def test_new_round_copies_settings_and_members_and_imports_the_new_responses(suite_world):
    _suite, r1, r2 = suite_world(n=20, anchors=4)
    assert r2.number == 2
    assert r2.project.slug == "tickets-round-2"
    assert r2.note == "bot v2"
    p1, p2 = r1.project, r2.project
    assert (p2.rubric_version_id, p2.overlap, p2.kind) == (p1.rubric_version_id, p1.overlap, p1.kind)
    members = lambda p: set(p.memberships.values_list("user__username", "role"))  # noqa: E731
    assert members(p2) == members(p1)
    assert p2.items.count() == 20
    assert Response.objects.filter(item__project=p2, model="bot").count() == 20
    # raters see the round as an ordinary project: one task per response, anchors included
    assert Task.objects.filter(project=p2).count() == 20 + 4


def test_the_anchor_set_copies_earlier_responses_and_stays_fixed_in_later_rounds(suite_world):
    suite, r1, r2 = suite_world(n=20, anchors=5)
    anchors = list(RoundAnchor.objects.filter(round=r2).select_related("response", "source__item"))
    assert len(anchors) == 5
    for a in anchors:
        assert a.source.item.project_id == r1.project_id
        assert a.response.text == a.source.text
        assert a.response.model == f"{a.source.model}@r1"
        assert a.response.item.external_id == a.source.item.external_id
    r3 = services.new_round(suite=suite, stream=io.BytesIO(items_jsonl(20, ("bot",), version="v3")), fmt="jsonl")
    assert set(RoundAnchor.objects.filter(round=r3).values_list("source_id", flat=True)) == {a.source_id for a in anchors}
    assert set(Response.objects.filter(anchor_of__round=r3).values_list("model", flat=True)) <= {"bot@r1", "base@r1"}


def test_a_bad_import_leaves_no_half_made_round(suite_world):
    suite, _r1, _r2 = suite_world(n=10, anchors=2)
    projects, items = Project.objects.count(), Item.objects.count()
    bad = io.BytesIO(b'{"id": "x-1", "prompt": "p", "responses": [{"model": "bot", "text": "t"}]}\n{"id": "x-2"}\n')
    with pytest.raises(ImportRejected):
        services.new_round(suite=suite, stream=bad, fmt="jsonl", anchors=2)
    assert (Project.objects.count(), Item.objects.count()) == (projects, items)
    assert suite.rounds.count() == 2


def test_an_anchor_set_larger_than_the_previous_round_is_refused(suite_world):
    suite, _r1, _r2 = suite_world(n=5, anchors=0)
    with pytest.raises(services.SuiteError, match="asks for 500 responses"):
        services.new_round(suite=suite, stream=io.BytesIO(items_jsonl(5, ("bot",))), fmt="jsonl", anchors=500)
    assert suite.rounds.count() == 2


def test_an_incompatible_rubric_version_is_refused(suite_world):
    suite, _r1, _r2 = suite_world(n=5, anchors=0)
    changed = json.loads(json.dumps(WEIGHTED_RUBRIC))
    changed["dimensions"][1] = {"key": "tone", "kind": "likert", "min": 1, "max": 7}
    version, _ = import_rubric(data=changed)
    with pytest.raises(services.SuiteError, match="tone: likert"):
        services.new_round(suite=suite, stream=io.BytesIO(items_jsonl(5, ("bot",))), fmt="jsonl", rubric_version=version)


def test_a_project_is_a_round_of_one_suite_at_most(suite_world):
    suite, r1, r2 = suite_world(n=5, anchors=0)
    with pytest.raises(services.SuiteError, match="already a round"):
        services.create_suite(slug="other", project=r1.project)
    with pytest.raises(services.SuiteError, match="already a round"):
        services.add_round(suite=suite, project=r2.project)


def test_thresholds_and_webhook_are_validated(suite_world):
    suite, _r1, _r2 = suite_world(n=5, anchors=0)
    with pytest.raises(services.SuiteError, match="unknown threshold"):
        services.update_suite(suite=suite, thresholds={"psy": 1})
    with pytest.raises(services.SuiteError, match="must be a number"):
        services.update_suite(suite=suite, thresholds={"psi": "high"})
    with pytest.raises(services.SuiteError, match="needs a secret"):
        services.update_suite(suite=suite, webhook_url="http://127.0.0.1:9/hook")
    assert services.update_suite(suite=suite, thresholds={"psi": 0.1}).threshold("psi") == 0.1


def test_new_round_command_creates_the_suite_and_the_round(db, tmp_path):
    version, _ = import_rubric(data=WEIGHTED_RUBRIC)
    from evalplatform.projects.services import create_project, import_items

    project = create_project(slug="cmd-r1", rubric_version=version)
    import_items(project=project, stream=io.BytesIO(items_jsonl(6, ("bot",))), fmt="jsonl")
    out = io.StringIO()
    call_command("new_round", "--suite", "cmd", "--create-from", "cmd-r1", stdout=out)
    path = tmp_path / "round2.jsonl"
    path.write_bytes(items_jsonl(6, ("bot",), version="v2"))
    call_command("new_round", "--suite", "cmd", "--items", str(path), "--anchors", "2", stdout=out)
    assert "round 2 of suite cmd" in out.getvalue()
    assert "2 anchor responses" in out.getvalue()
    assert Suite.objects.get(slug="cmd").rounds.count() == 2
    path.write_bytes(b"not json\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("new_round", "--suite", "cmd", "--items", str(path))
    assert Round.objects.filter(suite__slug="cmd").count() == 2


def test_members_are_copied_from_the_latest_round_paused_ones_stay_paused(suite_world):
    suite, _r1, r2 = suite_world(n=5, anchors=0)
    Membership.objects.filter(project=r2.project, user__username="bob").update(paused=True)
    r3 = services.new_round(suite=suite, stream=io.BytesIO(items_jsonl(5, ("bot",), version="v3")), fmt="jsonl")
    assert Membership.objects.get(project=r3.project, user__username="bob").paused is True
    assert Membership.objects.get(project=r3.project, user__username="alice").paused is False
