"""The second demo project: the same tickets, the three models compared head to head.

Every pair of the three drafts of each ticket is a pair task (sides balanced by
``comparisons.services.generate_pairings``), voted on a five-point preference by the demo's three
raters for most tickets, the rest left to vote.  The votes go through the queue and the submit
service like a rater's clicks, so each rating knows the side each draft was shown on: the votes
follow the models' qualities, and bob leans towards whatever is on the left (the report's position
bias finds him).
"""

from __future__ import annotations

import random

from evalplatform.assignments.services import claim_next
from evalplatform.comparisons.services import generate_pairings
from evalplatform.projects.models import Membership, Project
from evalplatform.projects.services import add_member, create_project, import_items
from evalplatform.ratings.services import submit_rating
from rubrics.documents import parse_text
from rubrics.services import import_rubric

PROJECT_SLUG = "support-head-to-head"
VOTED_TICKETS = 16  # of 24: each has three pairs; the rest (a third) are left to vote
LEFT_LEAN = {"alice": 0.0, "bob": 0.9, "carol": 0.0}  # how much each rater favours the left draft
NOISE = {"alice": 0.6, "bob": 0.6, "carol": 0.9}


def _quality(model_quality: dict[str, dict[str, float]]) -> dict[str, float]:
    return {model: sum(dims.values()) / len(dims) for model, dims in model_quality.items()}


def _vote(rng: random.Random, left: float, right: float, rater: str) -> int:
    """The value a rater picks as they see the pair (negative = the left draft, "A", is better)."""
    lean = left - right + LEFT_LEAN[rater] + rng.gauss(0, NOISE[rater])
    if abs(lean) < 0.35:
        return 0
    strength = 1 if abs(lean) < 1.3 else 2
    return -strength if lean > 0 else strength


def load_head_to_head(*, here, users: dict, model_quality: dict, seed: int = 2028) -> tuple[Project, bool]:
    """Create the pairwise demo once (call inside the demo's transaction).  Returns ``(project, created)``."""
    existing = Project.objects.filter(slug=PROJECT_SLUG).first()
    if existing is not None:
        return existing, False
    version, _ = import_rubric(data=parse_text((here / "head-to-head.yaml").read_text(), filename="x.yaml"))
    project = create_project(
        slug=PROJECT_SLUG, name="Support replies: head to head", rubric_version=version, overlap=3,
        kind=Project.Kind.PAIRWISE, created_by=users["lead"],
        description="The same tickets: which of two drafts would you send? Three raters, sides shuffled.",
    )
    raters = [users[name] for name in ("alice", "bob", "carol")]
    for rater in raters:
        add_member(project=project, user=rater, role=Membership.Role.RATER)
    with (here / "tickets.jsonl").open("rb") as handle:
        import_items(project=project, stream=handle, fmt="jsonl")
    generate_pairings(project=project, strategy="all", seed=seed)
    quality = _quality(model_quality)
    rng = random.Random(seed)
    # Each draft is a little better or worse than its model's average.
    responses = project.items.order_by("responses__id").values_list("responses__id", flat=True)
    draft_effect = {pk: rng.gauss(0, 0.4) for pk in responses}
    # The queue shuffles sides with the ``random`` module: seed it for the demo alone, so every load
    # shows the same figures, and give the process its own state back afterwards.
    saved = random.getstate()
    random.seed(seed)
    try:
        _vote_all(project, raters, quality, draft_effect, rng)
    finally:
        random.setstate(saved)
    return project, True


def _vote_all(project: Project, raters: list, quality: dict[str, float], draft_effect: dict[int, float], rng) -> None:
    pairs = {task.pk: task.responses for task in project.tasks.select_related("response_a", "response_b")}
    for rater in raters:
        for _ in range(VOTED_TICKETS * 3):  # the queue serves the first tickets' pairs first
            claim = claim_next(project=project, rater=rater)
            if claim is None:
                break
            held = claim.assignment
            response_a, response_b = pairs[held.task_id]
            left, right = (response_b, response_a) if held.swapped else (response_a, response_b)
            # A terse draft from the small open model reads worse than its average.
            q_left, q_right = (
                quality[r.model] + draft_effect[r.pk] - (0.8 if len(r.text) < 80 and r.model == "open-llm-8b" else 0.0)
                for r in (left, right)
            )
            value = _vote(rng, q_left, q_right, rater.username)
            submit_rating(assignment=held, scores={"preference": value},
                          duration_ms=int(rng.uniform(15_000, 90_000)))
