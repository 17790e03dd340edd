"""The demo that ``make run`` loads: support tickets rated by a panel of three.

Twenty-four support tickets with reference answers and drafts from three models, a rubric of
Accuracy, Helpfulness and Tone (1-5) plus a yes/no harmlessness check, ratings already in from three
raters for most tickets (so the lead's report shows real agreement figures) and the rest left for a
rater to score.  An automated judge (``judge:gpt-judge``, slightly lenient) has scored the rated
tickets too, so the report's judge calibration has something to say.  Everything goes through the
same services as real data: rubric import, item import, ratings import.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from django.db import transaction

from evalplatform.accounts.models import User
from evalplatform.demo.head_to_head import load_head_to_head
from evalplatform.demo.rounds import load_suite_demo
from evalplatform.projects.models import Membership, Project
from evalplatform.projects.services import add_member, create_project, import_items
from evalplatform.ratings.importing import import_ratings
from evalplatform.ratings.models import Rating, Score
from rubrics.documents import parse_text
from rubrics.services import import_rubric

HERE = Path(__file__).parent
PROJECT_SLUG = "support-demo"
RATED_TICKETS = 18  # of 24: the rest are left for a rater to score


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str


ACCOUNTS = (
    DemoAccount("admin", "admin-demo-pass", "admin"),
    DemoAccount("lead", "lead-demo-pass", "lead"),
    DemoAccount("alice", "alice-demo-pass", "rater"),
    DemoAccount("bob", "bob-demo-pass", "rater"),
    DemoAccount("carol", "carol-demo-pass", "rater"),
)

# The "true" quality of each model's drafts per dimension, and each rater's habits: the ratings are
# drawn around these, so the report has something real to find (a clear ranking, a lenient rater).
MODEL_QUALITY = {
    "helpbot-large": {"accuracy": 4.6, "helpfulness": 4.5, "tone": 4.6},
    "helpbot-small": {"accuracy": 3.9, "helpfulness": 2.9, "tone": 3.5},
    "open-llm-8b": {"accuracy": 2.6, "helpfulness": 2.2, "tone": 2.6},
}
RATER_BIAS = {"alice": (0.0, 0.45), "bob": (0.45, 0.5), "carol": (-0.3, 0.7)}  # (offset, noise sd)
# The automated judge follows the panel's mean closely (well correlated) but half a point high.
JUDGE = "judge:gpt-judge"
JUDGE_BIAS = (0.5, 0.55)


def _accounts() -> dict[str, User]:
    users = {}
    for account in ACCOUNTS:
        user, created = User.objects.get_or_create(username=account.username)
        if created:
            user.set_password(account.password)
            user.email = f"{account.username}@example.com"
            user.is_staff = user.is_superuser = account.role == "admin"
            user.save()
        users[account.username] = user
    return users


def _ratings_jsonl(project: Project, seed: int = 2026) -> str:
    rng = random.Random(seed)
    rows = []
    tickets = list(project.items.order_by("id").prefetch_related("responses")[:RATED_TICKETS])
    for item in tickets:
        ticket_effect = rng.gauss(0, 0.35)
        for response in item.responses.all():
            curt = len(response.text) < 80 and response.model == "open-llm-8b"
            for rater, (offset, noise) in RATER_BIAS.items():
                for dim, base in MODEL_QUALITY[response.model].items():
                    true = base + ticket_effect - (1.2 if curt else 0.0)
                    value = min(5, max(1, round(true + offset + rng.gauss(0, noise))))
                    rows.append({"item_id": item.external_id, "model": response.model, "rater": rater,
                                 "dimension": dim, "value": value})
                harmful = curt and rng.random() < 0.7
                rows.append({"item_id": item.external_id, "model": response.model, "rater": rater,
                             "dimension": "harmless", "value": "no" if harmful else "yes",
                             "duration_ms": int(rng.uniform(25_000, 140_000))})
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def _judge_jsonl(project: Project, seed: int = 2027) -> str:
    """The judge's ratings of every task the panel rated: the panel's mean, shifted and blurred."""
    rng = random.Random(seed)
    offset, noise = JUDGE_BIAS
    panel: dict[tuple[str, str, str], list[int]] = {}
    scores = Score.objects.filter(
        rating__project=project, rating__rater__is_automated=False, value__isnull=False
    ).order_by("rating__task_id", "dimension__position").values_list(
        "rating__task__item__external_id", "rating__task__response_a__model", "dimension__key", "value"
    )
    for item, model, dim, value in scores:
        panel.setdefault((item, model, dim), []).append(cast(int, value))  # value__isnull=False
    rows = []
    for (item, model, dim), values in panel.items():
        mean = sum(values) / len(values)
        answer: int | str = (
            ("yes" if mean >= 0.5 else "no") if dim == "harmless"
            else min(5, max(1, round(mean + offset + rng.gauss(0, noise))))
        )
        rows.append({"item_id": item, "model": model, "rater": JUDGE, "dimension": dim, "value": answer})
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def _add_judge(project: Project) -> None:
    """Import the judge's ratings once (also into a demo loaded before the judge existed)."""
    if not Rating.objects.filter(project=project, rater__username=JUDGE).exists():
        import_ratings(project=project, stream=io.BytesIO(_judge_jsonl(project).encode()), fmt="jsonl",
                       automated=True)


def load_demo() -> tuple[Project, bool]:
    """Create the demo project once.  Returns ``(project, created)``; a second call changes nothing."""
    existing = Project.objects.filter(slug=PROJECT_SLUG).first()
    if existing is not None:
        users = _accounts()
        _add_judge(existing)
        with transaction.atomic():
            load_head_to_head(here=HERE, users=users, model_quality=MODEL_QUALITY)
            _add_suite(existing, users)
        return existing, False
    with transaction.atomic():
        users = _accounts()
        version, _ = import_rubric(data=parse_text((HERE / "support-quality.yaml").read_text(), filename="x.yaml"))
        project = create_project(
            slug=PROJECT_SLUG, name="Support replies: three models", rubric_version=version, overlap=3,
            description="Drafts from three models for real-looking support tickets, scored by a panel of three.",
            created_by=users["lead"],
        )
        for name in ("alice", "bob", "carol"):
            add_member(project=project, user=users[name], role=Membership.Role.RATER)
        with (HERE / "tickets.jsonl").open("rb") as handle:
            import_items(project=project, stream=handle, fmt="jsonl")
        import_ratings(project=project, stream=io.BytesIO(_ratings_jsonl(project).encode()), fmt="jsonl")
        _add_judge(project)
        load_head_to_head(here=HERE, users=users, model_quality=MODEL_QUALITY)
        _add_suite(project, users)
    return project, True


def _add_suite(project: Project, users: dict[str, User]) -> None:
    """Round 2 of the support tickets, where helpbot-large regresses on Tone for enterprise customers."""
    load_suite_demo(here=HERE, round1=project, users=users, model_quality=MODEL_QUALITY, rater_bias=RATER_BIAS,
                    rated=RATED_TICKETS)
