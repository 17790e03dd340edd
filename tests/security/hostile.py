"""A platform whose every untrusted field holds the hostile corpus (tests/security/payloads.py).

Long text (prompts, responses, references, justifications, free-text scores, guidelines, dimension
descriptions, level anchors, project descriptions, the adjudication note) gets the whole corpus as
one Markdown document on a "showcase" object, and one payload each on the others.  Short fields
(item ids, model names, usernames, metadata keys and values, project and rubric names, dimension
and level labels) get one payload each, cycled over as many objects as there are payloads, so every
payload lands in every field.  Two projects: ``hostile`` (single responses) and ``hostile-pair``
(pairwise), both with ratings, a report, scorecards, gold and an adjudication.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from evalplatform.projects.models import Membership, Project, Task
from evalplatform.projects.services import add_member, create_project, import_items
from evalplatform.quality.services import adjudicate, compute_quality, set_gold
from evalplatform.ratings.importing import import_ratings
from evalplatform.reports import services as reports
from rubrics.services import import_rubric
from tests.fixtures import UserFactory
from tests.quality.conftest import rate
from tests.security.payloads import PAYLOADS

N = len(PAYLOADS)
JOINED = "\n\n".join(PAYLOADS)
SHARED_KEY = "<img src=x onerror=window.__xss=1>"  # a metadata field every item has, so it is broken down


def at(i: int) -> str:
    return PAYLOADS[i % N]


def distinct(values: list[str], limit: int) -> list[str]:
    """One-line, stripped, unique values of at most ``limit`` characters (ids, names, labels)."""
    out: list[str] = []
    for i, value in enumerate(values):
        text = "".join(ch if ord(ch) >= 32 else " " for ch in value).strip()[: limit - 6]
        while text in out or not text:
            text = f"{text} #{i}"
        out.append(text)
    return out


IDS = distinct(list(PAYLOADS), 200)
MODELS = distinct([at(i + 3) for i in range(N)], 200)
RATERS = distinct([at(i + 7) for i in range(N)], 150)
# One account name is one name whatever its case: keep the payloads whose lower case repeats apart.
RATERS = [name if name.lower() not in {r.lower() for r in RATERS[:i]} else f"{name} #{i}" for i, name in enumerate(RATERS)]
LABELS = distinct(list(PAYLOADS), 200)


def _levels(offset: int) -> dict[str, dict[str, str]]:
    return {str(v): {"label": LABELS[(offset + v) % N], "anchor": at(offset + v + 5)} for v in range(1, 6)}


def main_rubric() -> dict:
    return {
        "slug": "hostile", "name": LABELS[0], "guidelines": JOINED, "description": JOINED, "justification": "optional",
        "dimensions": [
            {"key": "accuracy", "label": LABELS[1], "description": JOINED, "kind": "likert", "min": 1, "max": 5,
             "required": True, "levels": _levels(0)},
            {"key": "harmless", "label": LABELS[2], "description": at(2), "kind": "binary",
             "levels": {"0": {"label": LABELS[3], "anchor": at(4)}, "1": {"label": LABELS[5], "anchor": at(6)}}},
            # Every payload as a level label (and as an anchor) of one question.
            {"key": "topic", "label": LABELS[7], "description": at(7), "kind": "categorical", "options": LABELS, "required": False,
             "levels": {label: at(i + 1) for i, label in enumerate(LABELS)}},
            {"key": "why", "label": LABELS[8], "description": JOINED, "kind": "text", "required": False},
        ],
    }


def pair_rubric() -> dict:
    return {
        "slug": "hostile-pair", "name": LABELS[9], "guidelines": JOINED, "justification": "optional",
        "dimensions": [
            {"key": "preference", "label": LABELS[10], "description": JOINED, "kind": "pairwise", "points": 5},
            {"key": "accuracy", "label": LABELS[11], "description": at(11), "kind": "likert", "min": 1, "max": 5,
             "required": True, "levels": _levels(20)},
        ],
    }


def label_rubrics() -> list[dict]:
    """Rubrics whose names and dimension labels take every payload (the admin and new-project pages)."""
    return [
        {"slug": f"hostile-labels-{k}", "name": LABELS[k], "guidelines": at(k), "dimensions": [
            {"key": f"d{j}", "label": LABELS[k + j], "description": at(k + j), "kind": "binary"}
            for j in range(5) if k + j < N
        ]}
        for k in range(0, N, 5)
    ]


def _jsonl(records: list[dict]) -> io.BytesIO:
    return io.BytesIO("\n".join(json.dumps(r) for r in records).encode())


def main_items() -> list[dict]:
    showcase = {"id": "showcase", "priority": 100, "prompt": JOINED, "reference": JOINED,
                "metadata": {**{p[:100]: p for p in PAYLOADS}, SHARED_KEY: at(0)},
                "responses": [{"model": "showcase-model", "text": JOINED}]}
    return [showcase, *(
        {"id": IDS[i], "prompt": at(i), "reference": at(i + 1), "priority": 0,
         "metadata": {SHARED_KEY: at(i % 3), at(i + 2)[:100]: at(i + 3)},
         "responses": [{"model": MODELS[i], "text": at(i + 2)}]}
        for i in range(N)
    )]


def main_ratings() -> list[dict]:
    records = []
    rows = [("showcase", "showcase-model", JOINED, JOINED, 0), *((IDS[i], MODELS[i], at(i + 3), at(i + 4), i)
                                                                for i in range(N))]
    for item_id, model, why, justification, i in rows:
        for k in range(3):
            common = {"item_id": item_id, "model": model, "rater": RATERS[(i + k) % N]}
            records += [
                {**common, "dimension": "accuracy", "value": 1 + (i + 2 * k) % 5, "justification": justification,
                 "duration_ms": 20_000 + 1000 * k},
                {**common, "dimension": "harmless", "value": (i + k) % 2},
                {**common, "dimension": "topic", "value": (i + k) % N},
                {**common, "dimension": "why", "value": why},
            ]
    return records


def pair_items() -> list[dict]:
    showcase = {"id": "showcase-pair", "priority": 100, "prompt": JOINED, "reference": JOINED,
                "responses": [{"model": "pair-model-a", "text": JOINED}, {"model": "pair-model-b", "text": JOINED}]}
    return [showcase, *(
        {"id": IDS[k], "prompt": at(k), "reference": at(k + 1),
         "responses": [{"model": MODELS[(2 * k) % N], "text": at(k + 2)},
                       {"model": MODELS[(2 * k + 1) % N], "text": at(k + 3)}]}
        for k in range((N + 1) // 2)
    )]


@dataclass
class Hostile:
    main: Project
    pair: Project
    lead: object
    admin: object
    alice: object  # rates the main project (the showcase item comes first)
    bob: object  # rates the pairwise one
    adjudicated: Task


def build_hostile() -> Hostile:
    lead = UserFactory(username="lead")
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    main_version, _ = import_rubric(data=main_rubric())
    pair_version, _ = import_rubric(data=pair_rubric())
    for document in label_rubrics():
        import_rubric(data=document)

    main = create_project(slug="hostile", name=LABELS[12], description=JOINED, rubric_version=main_version,
                          overlap=4, created_by=lead)
    import_items(project=main, stream=_jsonl(main_items()), fmt="jsonl")
    # Hostile names only exist as accounts made before the username rule (an import creates none such):
    # made directly here, and raters of the project, so the import may rate in their names.
    for name in sorted({row["rater"] for row in main_ratings()}):
        add_member(project=main, user=UserFactory(username=name), role=Membership.Role.RATER)
    import_ratings(project=main, stream=_jsonl(main_ratings()), fmt="jsonl")
    add_member(project=main, user=alice, role=Membership.Role.RATER)
    tasks = list(Task.objects.filter(project=main).select_related("item").order_by("id"))
    set_gold(task=tasks[-1], expectations={"accuracy": 3})
    adjudicated = tasks[0]  # the showcase
    adjudicate(task=adjudicated, scores={"accuracy": 3, "harmless": 1}, note=JOINED, decided_by=lead)

    pair = create_project(slug="hostile-pair", name=LABELS[13], description=JOINED, rubric_version=pair_version,
                          overlap=4, kind=Project.Kind.PAIRWISE, created_by=lead)
    import_items(project=pair, stream=_jsonl(pair_items()), fmt="jsonl")
    add_member(project=pair, user=bob, role=Membership.Role.RATER)
    voters = [UserFactory(username=name) for name in RATERS[:3]]
    for voter in voters:
        add_member(project=pair, user=voter, role=Membership.Role.RATER)
    for index, task in enumerate(Task.objects.filter(project=pair).order_by("id")):
        for k, voter in enumerate(voters):
            rate(task, voter, {"preference": (index + k) % 5 - 2, "accuracy.a": 1 + (index + k) % 5,
                               "accuracy.b": 1 + (index + 2 * k) % 5},
                 justification=JOINED if index == 0 else at(index + k))

    for i, name in enumerate(LABELS):  # every payload as a project name and description (home, admin)
        create_project(slug=f"named-{i}", name=name, description=at(i + 1), rubric_version=main_version,
                       created_by=lead)
    Token.objects.create(user=voters[0])
    Group.objects.create(name=RATERS[3])
    for project in (main, pair):
        reports.compute(report_id=reports.create_report(project=project, bootstrap=10).pk)
        compute_quality(project=project)
    return Hostile(main=main, pair=pair, lead=lead, admin=admin, alice=alice, bob=bob, adjudicated=adjudicated)
