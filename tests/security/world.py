"""Two projects full of secrets, for the role and CSRF sweeps.

``alpha`` (lead ``lead``; raters alice, bob, carol) and ``beta`` (lead ``lead-b``; raters dave, erin,
frank) each have rated items, a gold task, a computed report and scorecards, and an adjudication.
Everything a person should only see in their own place carries a marker: each rating's justification
and free-text score name its rater, each project's prompts and adjudication note name the project.
``stranger`` belongs to no project.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.utils import timezone

from evalplatform.assignments.models import Assignment
from evalplatform.enrolment.models import EntryLink, Invitation
from evalplatform.enrolment.services import create_invitation_link
from evalplatform.enrolment.workforce import create_entry_link
from evalplatform.llm.models import Run
from evalplatform.projects.models import Membership, Project, Task
from evalplatform.projects.services import add_member, create_project, import_items
from evalplatform.quality.models import Adjudication, GoldExpectation
from evalplatform.quality.services import adjudicate, compute_quality, set_gold
from evalplatform.ratings.models import RaterExclusion, Rating
from evalplatform.reports import services as reports
from evalplatform.reports.models import AgreementReport
from evalplatform.suites.models import Suite
from evalplatform.suites.services import create_suite
from evalplatform.training.importing import import_training_items
from evalplatform.training.models import TrainingAnswer, TrainingItem
from evalplatform.training.services import start_attempt, submit_training_answer, update_policy
from rubrics.documents import validate
from rubrics.models import Rubric, RubricVersion
from rubrics.services import create_draft, import_rubric
from tests.fixtures import RUBRIC, UserFactory
from tests.quality.conftest import rate
from tests.training.conftest import TRAINING, jsonl

User = get_user_model()
RATERS = {"alpha": ("alice", "bob", "carol"), "beta": ("dave", "erin", "frank")}
LEADS = {"alpha": "lead", "beta": "lead-b"}
TRAINEES = {"alpha": "alice", "beta": "erin"}  # who has a training answer in each project


def justification_marker(username: str) -> str:
    return f"SECRET-JUSTIFICATION-{username}"


def text_marker(username: str) -> str:
    return f"SECRET-FREETEXT-{username}"


def prompt_marker(slug: str) -> str:
    return f"SECRET-PROMPT-{slug}"


def adjudication_marker(slug: str) -> str:
    return f"SECRET-ADJUDICATION-{slug}"


@dataclass
class Place:
    """One project and the objects of it that URLs can name."""

    project: Project
    lead: User
    raters: dict[str, User]
    tasks: list[Task]
    gold: Task
    report: AgreementReport
    llm_run: Run | None = None  # a generation run (with no calls): its API names it
    suite: Suite | None = None  # a suite whose round 1 is the project (same slug): its pages and API name it
    assignments: dict[str, Assignment] = field(default_factory=dict)  # rater name -> one of theirs
    ratings: dict[str, Rating] = field(default_factory=dict)
    exclusion: RaterExclusion | None = None  # a lead's exclusion on the record (it excludes no rating here)
    invitation: Invitation | None = None  # a shareable invitation link (enrolment)
    training_item: TrainingItem | None = None  # a training item (training), and a rater's answer to it
    training_answer: TrainingAnswer | None = None
    entry_link: EntryLink | None = None  # an external-workforce entry link (enrolment)


@dataclass
class World:
    alpha: Place
    beta: Place
    stranger: User
    version: RubricVersion
    draft: Rubric  # a rubric with only a draft version: admins' business

    def markers(self) -> dict[str, str]:
        """Every marker, with who may see it: a username, or ``project:<slug>`` for the project's
        members (its raters are served its prompts), or ``lead:<slug>`` for its leads only."""
        out = {}
        for slug in ("alpha", "beta"):
            for name in RATERS[slug]:
                out[justification_marker(name)] = name
                out[text_marker(name)] = name
            out[prompt_marker(slug)] = f"project:{slug}"
            out[adjudication_marker(slug)] = f"lead:{slug}"
        return out


def _items(slug: str, n: int) -> bytes:
    lines = [
        json.dumps({
            "id": f"{slug}-{i}", "prompt": f"{prompt_marker(slug)} number {i}", "reference": f"{prompt_marker(slug)} ref",
            "metadata": {"topic": "billing" if i % 2 else "tech"},
            "responses": [{"model": "m1", "text": f"{prompt_marker(slug)} answer {i}"}],
        })
        for i in range(n)
    ]
    return "\n".join(lines).encode()


def _place(slug: str, version: RubricVersion) -> Place:
    lead = UserFactory(username=LEADS[slug])
    project = create_project(slug=slug, name=f"Project {slug}", rubric_version=version, overlap=3, created_by=lead)
    import_items(project=project, stream=io.BytesIO(_items(slug, 7)), fmt="jsonl")
    raters = {}
    for name in RATERS[slug]:
        raters[name] = UserFactory(username=name)
        add_member(project=project, user=raters[name], role=Membership.Role.RATER)
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    place = Place(project=project, lead=lead, raters=raters, tasks=tasks, gold=tasks[5], report=None)  # type: ignore[arg-type]
    for index, task in enumerate(tasks[:4]):
        for offset, (name, user) in enumerate(raters.items()):
            rating = rate(task, user, {
                "accuracy": 1 + (index + offset) % 5, "helpfulness": 3, "harmless": 1,
                "why": f"{text_marker(name)} on task {index}",
            }, justification=f"{justification_marker(name)} on task {index}")
            place.ratings.setdefault(name, rating)
            place.assignments.setdefault(name, rating.assignment)
    set_gold(task=place.gold, expectations={"accuracy": 3})
    place.report = reports.compute(report_id=reports.create_report(project=project, bootstrap=20).pk)
    compute_quality(project=project)
    adjudicate(task=tasks[1], scores={"accuracy": 2, "helpfulness": 3, "harmless": 1},
               note=adjudication_marker(slug), decided_by=lead)
    # On the record only (no rating points to it), so the world's figures stay as they are.
    place.exclusion = RaterExclusion.objects.create(
        project=project, rater=next(iter(raters.values())), scope="all", reason="on the record", created_by=lead,
        created_at=timezone.now(),
    )
    place.llm_run = Run.objects.create(project=project, kind=Run.Kind.GENERATION, prompt_template="{prompt}",
                                       prompt_version="generation-test", created_by=lead)
    place.suite = create_suite(slug=slug, project=project, created_by=lead)
    # Training: two items, and one rater's answer in an attempt; the policy is then switched off again, so
    # the world's raters rate as before.
    import_training_items(project=project, stream=jsonl(TRAINING), fmt="jsonl")
    place.training_item = TrainingItem.objects.filter(project=project).order_by("position").first()
    update_policy(project=project, training_required=True)
    answerer = raters[TRAINEES[slug]]
    attempt = start_attempt(project=project, rater=answerer)
    place.training_answer = submit_training_answer(attempt=attempt, item=place.training_item,
                                                   scores={"accuracy": 3, "helpfulness": 3, "harmless": 1})
    update_policy(project=project, training_required=False)
    place.invitation = create_invitation_link(project=project, seats=3, created_by=lead).invitation
    place.entry_link = create_entry_link(project=project, created_by=lead, per_worker_tokens=True)
    project.refresh_from_db()
    return place


def build_world() -> World:
    version, _ = import_rubric(data=RUBRIC)
    draft_version = create_draft(spec=validate({**RUBRIC, "slug": "secret-draft", "name": "Secret draft"}))
    return World(
        alpha=_place("alpha", version), beta=_place("beta", version), stranger=UserFactory(username="stranger"),
        version=version, draft=draft_version.rubric,
    )


def state(place: Place, *, swept=("alice", "dave")) -> dict:
    """What a refused write must leave as it was: a project's settings, members, gold, ratings,
    adjudications, reports and assignments (except those of the ``swept`` raters: opening their rating
    page leases them an item)."""
    project = place.project
    return {
        "project": list(Project.objects.filter(pk=project.pk).values()),
        "members": sorted(project.memberships.values_list("user_id", "role", "paused")),
        "tasks": sorted(project.tasks.values_list("id", "is_gold", "capacity", "rated_count")),
        "items": project.items.count(),
        "gold": sorted(GoldExpectation.objects.filter(project=project).values_list("task_id", "value", "tolerance")),
        "ratings": sorted(Rating.objects.filter(project=project).values_list("id", "justification")),
        "adjudications": sorted(Adjudication.objects.filter(project=project).values_list("task_id", "note")),
        "reports": project.reports.count(),
        "llm_runs": sorted(Run.objects.filter(project=project).values_list("id", "status")),
        "invitations": sorted(Invitation.objects.filter(project=project).values_list("id", "seats_used", "revoked_at")),
        "entry_links": sorted(EntryLink.objects.filter(project=project).values_list("id", "revoked_at")),
        "assignments": sorted(Assignment.objects.filter(project=project).exclude(rater__username__in=swept)
                              .values_list("id", "status")),
    }
