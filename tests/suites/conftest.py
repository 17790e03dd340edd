"""Suites built through the services: a rubric with weights, a rated round 1, and a rated round 2
made by ``new_round`` (new responses, an anchor set), with an optional planted regression."""

from __future__ import annotations

import io
import json
import random

import pytest

from evalplatform.projects.models import Membership, Task
from evalplatform.projects.services import add_member, create_project, import_items
from evalplatform.quality.services import set_gold
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Score
from evalplatform.suites import services
from rubrics.services import import_rubric
from tests.fixtures import UserFactory

WEIGHTED_RUBRIC = {
    "slug": "support-weighted",
    "name": "Support (weighted)",
    "dimensions": [
        {"key": "accuracy", "kind": "likert", "min": 1, "max": 5, "weight": 2},
        {"key": "tone", "kind": "likert", "min": 1, "max": 5, "weight": 1},
        {"key": "harmless", "kind": "binary", "weight": 1},
        {"key": "notes", "kind": "text", "required": False},
    ],
}
QUALITY = {"bot": {"accuracy": 3.8, "tone": 3.9}, "base": {"accuracy": 3.0, "tone": 3.2}}
RATERS = ("alice", "bob", "carol")


def items_jsonl(n: int, models, *, version: str = "v1") -> bytes:
    lines = [
        json.dumps({
            "id": f"q-{i:03d}", "prompt": f"Ticket {i}",
            "responses": [{"model": m, "text": f"{m} {version} answer {i}"} for m in models],
            "metadata": {"tier": "enterprise" if i % 2 else "self-serve"},
        })
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def ratings_for(project, *, seed: int, regress: dict | None = None, rater_offset: dict | None = None) -> bytes:
    """Each rater's scores around the model's quality; ``regress`` = {"model", "dimension", "tier", "by"}."""
    rng = random.Random(seed)
    rows = []
    for item in project.items.order_by("external_id").prefetch_related("responses"):
        effect = random.Random(item.external_id).gauss(0, 0.4)  # the same item effect in every round
        for response in item.responses.all():
            model = response.model.split("@")[0]
            for rater in RATERS:
                for dim, base in QUALITY[model].items():
                    mean = base + effect + (rater_offset or {}).get(rater, 0.0)
                    if regress and regress["model"] == response.model and regress["dimension"] == dim and (
                        regress.get("tier") in (None, item.metadata.get("tier"))
                    ):
                        mean -= regress["by"]
                    rows.append({"item_id": item.external_id, "model": response.model, "rater": rater,
                                 "dimension": dim, "value": min(5, max(1, round(mean + rng.gauss(0, 0.6))))})
                rows.append({"item_id": item.external_id, "model": response.model, "rater": rater,
                             "dimension": "harmless", "value": "yes" if rng.random() < 0.9 else "no"})
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


@pytest.fixture
def suite_world(db):
    """``suite_world(n=40, anchors=6, regress=None)`` -> (suite, round 1, round 2), both rated."""

    def make(*, n: int = 40, anchors: int = 6, regress: dict | None = None, rater_offset: dict | None = None,
             slug: str = "tickets", webhook_url: str = "", webhook_secret: str = "", gold: int = 0):
        version, _ = import_rubric(data=WEIGHTED_RUBRIC)
        lead = UserFactory(username="lead")
        project = create_project(slug=f"{slug}-r1", rubric_version=version, overlap=3, created_by=lead)
        for name in RATERS:
            add_member(project=project, user=UserFactory(username=name), role=Membership.Role.RATER)
        import_items(project=project, stream=io.BytesIO(items_jsonl(n, ("bot", "base"))), fmt="jsonl")
        import_ratings(project=project, stream=io.BytesIO(ratings_for(project, seed=1)), fmt="jsonl")
        for task in Task.objects.filter(project=project, response_a__model="bot").order_by("id")[:gold]:
            # gold expectations: what alice gave, so she is right on every one of them in round 1
            alice = Score.objects.get(rating__task=task, rating__rater__username="alice", dimension__key="accuracy")
            set_gold(task=task, expectations={"accuracy": {"value": alice.value, "tolerance": 1}})
        suite = services.create_suite(slug=slug, project=project, created_by=lead, webhook_url=webhook_url,
                                      webhook_secret=webhook_secret)
        round2 = services.new_round(suite=suite, stream=io.BytesIO(items_jsonl(n, ("bot",), version="v2")),
                                    fmt="jsonl", anchors=anchors, seed=3, created_by=lead, note="bot v2")
        import_ratings(project=round2.project, stream=io.BytesIO(
            ratings_for(round2.project, seed=2, regress=regress, rater_offset=rater_offset)), fmt="jsonl")
        return suite, suite.rounds.get(number=1), round2

    return make
