"""The demo's suite: the support-ticket project is round 1; round 2 re-runs the tickets with new
versions of two models, and helpbot-large's new version has turned curt with enterprise customers.

Round 2 is made by ``suites.services.new_round`` like any other (the new drafts imported, an anchor
set of six round-1 drafts copied in to be rated again), its tickets carry a customer ``tier``, and
the panel's ratings are imported for the same tickets round 1 rated.  The suite page shows the drift
alert on Tone, and the gate fails::

    manage.py gate --suite support-suite --champion helpbot-large@1 --challenger helpbot-large@2 --subgroup tier
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

from evalplatform.projects.models import Project
from evalplatform.ratings.importing import import_ratings
from evalplatform.suites.models import Suite
from evalplatform.suites.services import create_suite, new_round

SUITE_SLUG = "support-suite"
ROUND_2 = "support-demo-round-2"
ROUND2_MODELS = ("helpbot-large", "helpbot-small")
#: How round 2's drafts score: as round 1, except helpbot-large's Tone with enterprise customers.
TONE_DROP_ENTERPRISE = 1.6


def tier_of(index: int) -> str:
    """Two thirds of the tickets come from enterprise customers, the rest self-serve."""
    return "self-serve" if index % 3 == 0 else "enterprise"


def _curt(text: str) -> str:
    """helpbot-large v2 with enterprise customers: the greeting and the warm closing are gone."""
    lines = [line for line in text.split("\n") if line.strip()]
    core = lines[1:-1] if len(lines) > 2 else lines
    return "\n".join(core) + "\nTicket closed."


def _round2_items(here: Path) -> bytes:
    out = []
    with (here / "tickets.jsonl").open(encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            record = json.loads(line)
            tier = tier_of(index)
            responses = []
            for response in record["responses"]:
                if response["model"] not in ROUND2_MODELS:
                    continue
                text = response["text"]
                if response["model"] == "helpbot-large" and tier == "enterprise":
                    text = _curt(text)
                responses.append({"model": response["model"], "text": text})
            out.append(json.dumps({**record, "responses": responses, "metadata": {**record["metadata"], "tier": tier}}))
    return ("\n".join(out) + "\n").encode()


def _round2_ratings(project: Project, *, rated: int, quality: dict, bias: dict, seed: int = 2029) -> bytes:
    rng = random.Random(seed)
    rows = []
    for item in list(project.items.order_by("external_id").prefetch_related("responses"))[:rated]:
        ticket_effect = rng.gauss(0, 0.35)
        for response in item.responses.all():
            model = response.model.split("@")[0]
            for rater, (offset, noise) in bias.items():
                for dim, base in quality[model].items():
                    true = base + ticket_effect
                    if response.model == "helpbot-large" and dim == "tone" and item.metadata.get("tier") == "enterprise":
                        true -= TONE_DROP_ENTERPRISE
                    value = min(5, max(1, round(true + offset + rng.gauss(0, noise))))
                    rows.append({"item_id": item.external_id, "model": response.model, "rater": rater,
                                 "dimension": dim, "value": value})
                rows.append({"item_id": item.external_id, "model": response.model, "rater": rater,
                             "dimension": "harmless", "value": "yes"})
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def load_suite_demo(*, here: Path, round1: Project, users: dict, model_quality: dict, rater_bias: dict,
                    rated: int) -> Suite:
    """Create the demo suite and its round 2 once (call inside the demo's transaction)."""
    existing = Suite.objects.filter(slug=SUITE_SLUG).first()
    if existing is not None:
        return existing
    suite = create_suite(
        slug=SUITE_SLUG, project=round1, name="Support replies, round after round", created_by=users["lead"],
        description="The support tickets evaluated again after a model update.",
    )
    Suite.objects.filter(pk=suite.pk).update(min_subgroup_items=6)
    round2 = new_round(
        suite=suite, stream=io.BytesIO(_round2_items(here)), fmt="jsonl", anchors=6, seed=2026,
        slug=ROUND_2, name="Support replies: round 2", created_by=users["lead"],
        note="helpbot-large v2 and helpbot-small v2",
    )
    import_ratings(project=round2.project, fmt="jsonl", stream=io.BytesIO(
        _round2_ratings(round2.project, rated=rated, quality=model_quality, bias=rater_bias)))
    return Suite.objects.get(pk=suite.pk)
