"""Model comparison: which pairs of responses raters compare, so every model pair is covered evenly.

This app turns a pairwise project's items into balanced pair tasks (here), reads the stored votes
and per-response scores back out (``selectors``), and builds the report's model-comparison sections
(``sections``): a Bradley–Terry leaderboard, the win-rate matrix, position bias and paired
significance tests.  The statistics themselves are ``evalplatform.stats.pairwise`` and ``.compare``.

Importing items into a pairwise project makes every pair of each item's responses
(``projects.services.ensure_tasks``).  ``generate_pairings`` then reshapes the tasks that no rater
has touched yet: it keeps or creates the pairs of its plan, orients them so each model is shown as
``response_a`` about as often as as ``response_b``, and removes untouched tasks outside the plan.
Tasks already served to a rater (or rated) are never changed; they count toward the balance.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template.defaultfilters import pluralize

from evalplatform.assignments.models import Assignment
from evalplatform.projects.models import Item, Project, Response, Task
from evalplatform.ratings.models import Rating

STRATEGIES = ("all", "sample")
BATCH = 1000


class PairingError(ValidationError):
    """A pairing request the rules refuse (the message says which rule)."""


@dataclass(frozen=True)
class PairingSummary:
    strategy: str
    per_item: int | None
    seed: int
    items: int  # items with at least two responses
    created: int
    removed: int  # untouched tasks outside the plan
    flipped: int  # untouched tasks whose sides were swapped to balance them
    kept_started: int  # tasks already served or rated, kept as they were
    pair_tasks: int  # the project's pair tasks afterwards
    model_tasks: dict[str, int] = field(default_factory=dict)  # tasks each model appears in
    model_first: dict[str, int] = field(default_factory=dict)  # ... of which as response_a
    pair_counts: list[dict] = field(default_factory=list)  # [{"models": [x, y], "tasks": n, "x_first": n}]

    def __str__(self) -> str:
        return (
            f"{self.pair_tasks} pair task{pluralize(self.pair_tasks)} on {self.items} item{pluralize(self.items)} "
            f"({self.created} created, {self.removed} removed, "
            f"{self.flipped} sides swapped, {self.kept_started} already started and kept)"
        )


def _touched() -> Q:
    """Tasks a rater has been served or that have a rating (an automated judge's has no assignment),
    and gold tasks (quality checks the lead set up): the plan never changes these."""
    served = Assignment.objects.filter(task=OuterRef("pk"))
    rated = Rating.objects.filter(task=OuterRef("pk"))
    return (
        Q(claimed_count__gt=0) | Q(rated_count__gt=0) | Q(is_gold=True) | Q(Exists(served)) | Q(Exists(rated))
    )


class _Balance:
    """Running counts the plan balances: tasks per unordered model pair, per model, and per side."""

    def __init__(self) -> None:
        self.pairs: Counter[tuple[str, str]] = Counter()
        self.models: Counter[str] = Counter()
        self.first: Counter[tuple[str, str]] = Counter()  # (x, y): tasks with x as response_a against y

    def add(self, model_a: str, model_b: str) -> None:
        self.pairs[_key(model_a, model_b)] += 1
        self.models[model_a] += 1
        self.models[model_b] += 1
        self.first[(model_a, model_b)] += 1


def _key(x: str, y: str) -> tuple[str, str]:
    return (x, y) if x <= y else (y, x)


def _validate(project: Project, strategy: str, per_item: int | None) -> None:
    if project.kind != Project.Kind.PAIRWISE:
        raise PairingError("pairings are made in pairwise projects; this project rates single responses")
    if strategy not in STRATEGIES:
        raise PairingError(f"strategy must be one of {', '.join(STRATEGIES)} (got {strategy!r})")
    if strategy == "sample":
        if not isinstance(per_item, int) or isinstance(per_item, bool) or per_item < 1:
            raise PairingError(f"the sample strategy needs per_item, a whole number of pairs per item >= 1 (got {per_item!r})")
    elif per_item is not None:
        raise PairingError("per_item applies to the sample strategy only; the all strategy makes every pair")


def generate_pairings(
    *, project: Project, strategy: str = "all", per_item: int | None = None, seed: int = 0
) -> PairingSummary:
    """Plan the project's pair tasks so every model pair is covered about equally, and apply the plan.

    ``strategy="all"``: every pair of each item's responses.  ``strategy="sample"``: ``per_item``
    pairs per item (all of them when an item has fewer), chosen greedily item by item (items in a
    seeded random order): the least-covered model pair first, then the pair whose models appear
    least, then a seeded coin.  Either way each pair's sides are chosen so that, for every model
    pair {x, y}, x is ``response_a`` as often as y (within one), hence each model is about as often
    on each side.  Raters' screens are randomised per assignment on top of this (``Assignment.swapped``).

    Tasks a rater was served, or that have ratings, are kept as they are and count toward the plan.
    Untouched tasks are kept, flipped (sides swapped) or removed to match it.  A response is never
    paired with itself, and no two tasks compare the same two responses.  Idempotent: running it
    again with the same arguments changes nothing.
    """
    _validate(project, strategy, per_item)
    rng = random.Random(seed)
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).values_list("pk", flat=True).get()
        responses: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for rid, item_id, model in (
            Response.objects.filter(item__project=project).order_by("item_id", "position", "id")
            .values_list("id", "item_id", "model").iterator(chunk_size=5000)
        ):
            responses[item_id].append((rid, model))
        model_of = {rid: model for resps in responses.values() for rid, model in resps}
        started: dict[int, list[tuple[int, int]]] = defaultdict(list)
        untouched: dict[int, dict[frozenset[int], tuple[int, int, int]]] = defaultdict(dict)
        duplicates: list[int] = []
        rows = (
            Task.objects.filter(project=project, response_b__isnull=False)
            .annotate(touched=_touched()).order_by("id")
            .values_list("id", "item_id", "response_a_id", "response_b_id", "touched")
        )
        balance = _Balance()
        for task_id, item_id, a, b, touched in rows.iterator(chunk_size=5000):
            if touched:
                started[item_id].append((a, b))
                balance.add(model_of[a], model_of[b])
            elif frozenset((a, b)) in untouched[item_id]:
                duplicates.append(task_id)
            else:
                untouched[item_id][frozenset((a, b))] = (task_id, a, b)
        plan = _plan(responses, started, untouched, balance, strategy, per_item, rng, model_of)
        created, removed, flipped = _apply(project, plan, untouched, duplicates, rng)
        kept = sum(len(v) for v in started.values())
    return _summary(project, strategy, per_item, seed, responses, balance, created, removed, flipped, kept)


def _plan(responses, started, untouched, balance: _Balance, strategy, per_item, rng, model_of):
    """The new pairs of each item, oriented: {item_id: [(response_a_id, response_b_id), ...]}."""
    plan: dict[int, list[tuple[int, int]]] = {}
    order = sorted(responses)
    rng.shuffle(order)
    for item_id in order:
        resps = responses[item_id]
        if len(resps) < 2:
            continue
        fixed = {frozenset(pair) for pair in started.get(item_id, ())}
        candidates = [(a, b) for (a, _), (b, _) in combinations(resps, 2) if frozenset((a, b)) not in fixed]
        existing = untouched.get(item_id, {})
        need = len(candidates) if strategy == "all" else max(0, min(per_item - len(fixed), len(candidates)))
        chosen: list[tuple[int, int]] = []
        for _ in range(need):
            # One draw per candidate whatever is chosen, so the draws line up between runs.
            keyed = [
                (
                    balance.pairs[_key(model_of[a], model_of[b])],
                    balance.models[model_of[a]] + balance.models[model_of[b]],
                    0 if frozenset((a, b)) in existing else 1,
                    rng.random(),
                    (a, b),
                )
                for a, b in candidates
            ]
            a, b = min(keyed)[-1]
            candidates.remove((a, b))
            a, b = _orient(a, b, balance, model_of, existing.get(frozenset((a, b))), rng)
            balance.add(model_of[a], model_of[b])
            chosen.append((a, b))
        plan[item_id] = chosen
    return plan


def _orient(a: int, b: int, balance: _Balance, model_of, existing, rng) -> tuple[int, int]:
    """Put first the model that has been ``response_a`` less often against the other."""
    coin = rng.random()
    x, y = model_of[a], model_of[b]
    if balance.first[(x, y)] != balance.first[(y, x)]:
        return (a, b) if balance.first[(x, y)] < balance.first[(y, x)] else (b, a)
    if existing is not None:
        return existing[1], existing[2]  # a tie: leave an existing task's sides alone
    return (a, b) if coin < 0.5 else (b, a)


def _apply(project: Project, plan, untouched, duplicates: list[int], rng) -> tuple[int, int, int]:
    """Make the untouched tasks match ``plan``; every write is conditional on the task staying untouched."""
    remove, flip, new = list(duplicates), [], []
    for item_id, tasks in untouched.items():
        wanted = {frozenset(pair): pair for pair in plan.get(item_id, ())}
        for key, (task_id, a, _b) in tasks.items():
            pair = wanted.get(key)
            if pair is None:
                remove.append(task_id)
            elif pair[0] != a:
                flip.append(task_id)
    priorities = dict(Item.objects.filter(project=project).values_list("id", "priority"))
    for item_id in sorted(plan):
        for a, b in plan[item_id]:
            if frozenset((a, b)) not in untouched.get(item_id, {}):
                new.append(Task(
                    project=project, item_id=item_id, response_a_id=a, response_b_id=b, capacity=project.overlap,
                    priority=priorities[item_id], shuffle_key=rng.randrange(1 << 30),
                ))
    removed = flipped = 0
    still_untouched = Task.objects.filter(project=project).exclude(_touched())
    for start in range(0, len(remove), BATCH):
        removed += still_untouched.filter(pk__in=remove[start : start + BATCH]).delete()[1].get("projects.Task", 0)
    for start in range(0, len(flip), BATCH):
        flipped += still_untouched.filter(pk__in=flip[start : start + BATCH]).update(
            response_a=F("response_b"), response_b=F("response_a")
        )
    Task.objects.bulk_create(new, batch_size=BATCH)
    return len(new), removed, flipped


def _summary(project, strategy, per_item, seed, responses, balance, created, removed, flipped, kept) -> PairingSummary:
    """Counts over the project's pair tasks as they now are (one query)."""
    pairs: Counter[tuple[str, str]] = Counter()
    first: Counter[tuple[str, str]] = Counter()
    models: Counter[str] = Counter()
    model_first: Counter[str] = Counter()
    n = 0
    for ma, mb in Task.objects.filter(project=project, response_b__isnull=False).values_list(
        "response_a__model", "response_b__model"
    ).iterator(chunk_size=5000):
        n += 1
        pairs[_key(ma, mb)] += 1
        first[(ma, mb)] += 1
        models[ma] += 1
        models[mb] += 1
        model_first[ma] += 1
    return PairingSummary(
        strategy=strategy, per_item=per_item, seed=seed,
        items=sum(1 for resps in responses.values() if len(resps) >= 2),
        created=created, removed=removed, flipped=flipped, kept_started=kept, pair_tasks=n,
        model_tasks=dict(sorted(models.items())),
        model_first={m: model_first.get(m, 0) for m in sorted(models)},
        pair_counts=[
            {"models": [x, y], "tasks": count, "x_first": first[(x, y)]} for (x, y), count in sorted(pairs.items())
        ],
    )
