"""External workforces (Prolific, Mechanical Turk and the like): entry links, workers, completion.

A lead opens an ``EntryLink`` on a project and gives its URL to the platform, which appends the
worker's id (``?PROLIFIC_PID=...``).  The URL carries a signature over the project's and the link's
ids (``entry_link_token``), so a made-up or altered link gets nothing.  The worker id cannot be signed
by us when the platform appends it, so it is held to the platform's strict format; a lead who hands
out URLs one by one (an MTurk qualification list, say) turns on ``per_worker_tokens`` and generates
the list (``worker_urls``): then each URL also carries an HMAC over the link and that worker's id,
and an id not on the list gets nothing.

A worker becomes a rater account scoped to the project: no usable password (it logs in only by the
entry link's session), a membership in this one project with the worker's id as ``external_id``
(shown in exports and scorecards), and ``WorkerScopeMiddleware`` keeping its session to the project's
pages.  The same worker entering again resumes the same account, so the queue never serves an item
twice.  After ``quota`` ratings, or when the project has nothing left for them, the scoring page
sends them (``quota_refusal`` and ``exhausted_refusal``, registered with ``assignments.gates``) to
the completion page: the code and
the platform's completion URL.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from evalplatform.accounts.services import username_problem
from evalplatform.assignments.gates import Refusal, refusal_for
from evalplatform.enrolment.models import EntryLink, ExternalWorker
from evalplatform.projects.models import Membership, Project
from evalplatform.ratings.models import Rating
from evalplatform.ratings.selectors import rater_progress

User = get_user_model()


@dataclass(frozen=True)
class PlatformRule:
    worker_param: str
    study_param: str
    session_param: str
    worker_id: re.Pattern[str]
    worker_id_rule: str
    completion_url: str


PLATFORMS: dict[str, PlatformRule] = {
    # Prolific ids are MongoDB object ids: 24 lowercase hex digits.
    EntryLink.Platform.PROLIFIC: PlatformRule(
        "PROLIFIC_PID", "STUDY_ID", "SESSION_ID", re.compile(r"[0-9a-f]{24}"), "24 lowercase hexadecimal digits",
        "https://app.prolific.com/submissions/complete?cc={code}",
    ),
    # MTurk worker ids: an "A" and 9 to 29 more capital letters and digits (A1B2C3D4E5F6G7).
    EntryLink.Platform.MTURK: PlatformRule(
        "workerId", "hitId", "assignmentId", re.compile(r"A[0-9A-Z]{9,29}"),
        "an A followed by 9 to 29 capital letters and digits", "",
    ),
    EntryLink.Platform.OTHER: PlatformRule(
        "worker_id", "", "", re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"),
        "1 to 64 letters, digits, - and _, starting with a letter or digit", "",
    ),
}
PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,49}")
STUDY_VALUE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
#: The URL parameter carrying a per-worker signature (``per_worker_tokens``).
WORKER_TOKEN_PARAM = "token"  # noqa: S105 (a parameter name, not a secret)
MAX_QUOTA = 100_000
MAX_LIST = 10_000
SESSION_KEY = "enrolment_worker_project"
#: ``evalplatform.training``'s refusal code for a rater who used every attempt without passing.
TRAINING_FAILED = "training_failed"

_LINK_SALT = "evalplatform.enrolment.entry-link"
_WORKER_SALT = "evalplatform.enrolment.worker"


class EntryLinkError(ValidationError):
    """An entry link cannot be made as asked (field-keyed messages)."""


class EntryRefused(Exception):
    """The entry URL opens nothing; ``reason`` says which case, for the page (and its status)."""

    MESSAGES = {
        "link": "This study link is not valid. Return to the study's page on your platform and use its link.",
        "closed": "This study is closed: the project no longer takes workers through this link.",
        "worker_id": "The link did not carry a valid worker id.",
        "worker_token": "This link is not one issued to this worker id.",
        "study": "The link's study or session id is malformed.",
    }

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(self.MESSAGES[reason] + (f" {detail}" if detail else ""))


# --- Links -------------------------------------------------------------------------------------


def _signer() -> signing.Signer:
    return signing.Signer(salt=_LINK_SALT, sep=".")


def entry_link_token(link: EntryLink) -> str:
    """The signed token of the link's URL: ``<project>-<link>.<signature>``."""
    return _signer().sign(f"{link.project_id}-{link.pk}")


def entry_path(link: EntryLink) -> str:
    """The link's URL path (without the worker's parameters, which the platform appends)."""
    return reverse("enrolment-enter", args=[entry_link_token(link)])


def link_for_token(token: str) -> EntryLink:
    """The open entry link ``token`` was signed for, or ``EntryRefused``."""
    try:
        value = _signer().unsign(token or "")
    except signing.BadSignature:
        raise EntryRefused("link") from None
    project_id, _, link_id = value.partition("-")
    link = EntryLink.objects.select_related("project").filter(pk=int(link_id), project_id=int(project_id)).first()
    if link is None:
        raise EntryRefused("link")
    if link.revoked_at is not None:
        raise EntryRefused("closed")
    return link


def worker_token(link: EntryLink, worker_id: str) -> str:
    """The per-worker signature: an HMAC over the link and the worker's id (``per_worker_tokens``)."""
    return salted_hmac(_WORKER_SALT, f"{link.pk}:{worker_id}", algorithm="sha256").hexdigest()[:32]


def _check_param(errors: dict, field: str, value: str, *, required: bool) -> None:
    if value and not PARAM_NAME.fullmatch(value):
        errors[field] = [f"{value[:60]!r} is not a URL parameter name: a letter or _, then letters, digits, _ (≤ 50)"]
    elif required and not value:
        errors[field] = ["a URL parameter name is required"]


def create_entry_link(
    *, project: Project, created_by, platform: str = EntryLink.Platform.PROLIFIC, quota: int = 20, label: str = "",
    worker_param: str | None = None, study_param: str | None = None, session_param: str | None = None,
    per_worker_tokens: bool = False, completion_code: str | None = None, completion_url: str | None = None,
    screened_out_code: str = "",
) -> EntryLink:
    """Open an entry link on ``project``.  Parameter names and the completion URL default to the
    platform's (Prolific: ``PROLIFIC_PID``/``STUDY_ID``/``SESSION_ID``, its completion URL with
    ``{code}``); the completion code defaults to a random one.  Raises ``EntryLinkError`` by field."""
    errors: dict[str, list[str]] = {}
    if platform not in PLATFORMS:
        raise EntryLinkError({"platform": [f"one of {', '.join(PLATFORMS)} (got {platform!r})"]})
    rule = PLATFORMS[platform]
    worker_param = rule.worker_param if worker_param is None else worker_param.strip()
    study_param = rule.study_param if study_param is None else study_param.strip()
    session_param = rule.session_param if session_param is None else session_param.strip()
    _check_param(errors, "worker_param", worker_param, required=True)
    _check_param(errors, "study_param", study_param, required=False)
    _check_param(errors, "session_param", session_param, required=False)
    names = [n for n in (worker_param, study_param, session_param, WORKER_TOKEN_PARAM) if n]
    if len(set(names)) != len(names):
        errors.setdefault("worker_param", []).append(
            f"the worker, study and session parameters must differ from each other and from {WORKER_TOKEN_PARAM!r}"
        )
    if not isinstance(quota, int) or isinstance(quota, bool) or not 1 <= quota <= MAX_QUOTA:
        errors["quota"] = [f"a whole number of items from 1 to {MAX_QUOTA} (got {quota!r})"]
    code = (completion_code or "").strip() or f"C{secrets.token_hex(4).upper()}"
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", code):
        errors["completion_code"] = ["1 to 64 letters, digits, - and _"]
    screened_out_code = (screened_out_code or "").strip()
    if screened_out_code and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", screened_out_code):
        errors["screened_out_code"] = ["1 to 64 letters, digits, - and _"]
    url = rule.completion_url if completion_url is None else completion_url.strip()
    if url:
        try:
            URLValidator(schemes=["https", "http"])(url.replace("{code}", "CODE"))
        except ValidationError:
            errors["completion_url"] = [f"{url[:80]!r} is not an http(s) URL ({{code}} stands for the completion code)"]
        if len(url) > 500:
            errors["completion_url"] = ["at most 500 characters"]
    if len(label) > 200:
        errors["label"] = ["at most 200 characters"]
    if errors:
        raise EntryLinkError(errors)
    with transaction.atomic():
        # the queue asks the quota gate only in projects that have external workers
        Project.objects.filter(pk=project.pk, external_workforce=False).update(external_workforce=True)
        project.external_workforce = True
        return EntryLink.objects.create(
            project=project, label=label.strip(), platform=platform, worker_param=worker_param,
            study_param=study_param, session_param=session_param, per_worker_tokens=per_worker_tokens, quota=quota,
            completion_code=code, screened_out_code=screened_out_code, completion_url=url, created_by=created_by,
        )


def revoke_entry_link(*, link: EntryLink, now: datetime | None = None) -> EntryLink:
    """Close an entry link: its URL gives the "study closed" page from now on (idempotent)."""
    EntryLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=now or timezone.now())
    link.refresh_from_db(fields=["revoked_at"])
    return link


def worker_id_problem(link: EntryLink, worker_id: str) -> str | None:
    rule = PLATFORMS[link.platform]
    if not worker_id:
        return f"the {link.worker_param} parameter is missing"
    if not rule.worker_id.fullmatch(worker_id):
        return f"{link.worker_param} must be {rule.worker_id_rule}"
    return None


def worker_urls(*, link: EntryLink, worker_ids: Iterable[str], base_url: str) -> list[tuple[str, str]]:
    """One entry URL per worker id (``per_worker_tokens`` links): ``[(worker_id, url)]`` in the given
    order, duplicates once.  Every id is checked first; a bad one raises ``EntryLinkError`` naming its line."""
    ids: list[str] = []
    errors: list[str] = []
    for number, raw in enumerate(worker_ids, start=1):
        worker_id = raw.strip()
        if not worker_id:
            continue
        problem = worker_id_problem(link, worker_id)
        if problem:
            errors.append(f"line {number}: {worker_id[:64]!r}: {problem}")
        elif worker_id not in ids:
            ids.append(worker_id)
        if number > MAX_LIST:
            raise EntryLinkError({"worker_ids": [f"at most {MAX_LIST} worker ids at a time"]})
    if errors:
        raise EntryLinkError({"worker_ids": errors[:50]})
    if not ids:
        raise EntryLinkError({"worker_ids": ["give at least one worker id, one a line"]})
    path = base_url.rstrip("/") + entry_path(link)
    return [
        (worker_id, f"{path}?{urlencode({link.worker_param: worker_id, WORKER_TOKEN_PARAM: worker_token(link, worker_id)})}")
        for worker_id in ids
    ]


# --- Entering ----------------------------------------------------------------------------------


def _username_for(project: Project, worker_id: str) -> str:
    username = f"ext-{worker_id}-p{project.pk}"
    if username_problem(username) or User.objects.filter(username__iexact=username).exists():
        username = f"ext-{secrets.token_hex(6)}-p{project.pk}"
    return username


def enter(*, link: EntryLink, params: Mapping[str, str]) -> tuple[ExternalWorker, bool]:
    """Admit the worker named in ``params`` (the entry URL's query) through ``link``: their account in
    the project, made now or resumed.  Returns (worker, created).  Raises ``EntryRefused``."""
    worker_id = (params.get(link.worker_param) or "").strip()
    problem = worker_id_problem(link, worker_id)
    if problem:
        raise EntryRefused("worker_id", problem[0].upper() + problem[1:] + ".")
    if link.per_worker_tokens and not constant_time_compare(
        params.get(WORKER_TOKEN_PARAM) or "", worker_token(link, worker_id)
    ):
        raise EntryRefused("worker_token")
    extra = {}
    for field, param in (("study_id", link.study_param), ("session_id", link.session_param)):
        value = (params.get(param) or "").strip() if param else ""
        if value and not STUDY_VALUE.fullmatch(value):
            raise EntryRefused("study", f"{param} must be 1 to 100 letters, digits and _ . : -")
        if value:
            extra[field] = value
    existing = ExternalWorker.objects.select_related("user", "link").filter(
        project_id=link.project_id, worker_id=worker_id
    ).first()
    if existing is not None:
        if extra:
            ExternalWorker.objects.filter(pk=existing.pk).update(**extra, last_seen_at=timezone.now())
        return existing, False
    try:
        with transaction.atomic():
            user = User(username=_username_for(link.project, worker_id))
            user.set_unusable_password()  # logs in only through the entry link's session
            user.save()
            Membership.objects.create(project_id=link.project_id, user=user, role=Membership.Role.RATER,
                                      external_id=worker_id)
            worker = ExternalWorker.objects.create(project_id=link.project_id, link=link, user=user,
                                                   worker_id=worker_id, quota=link.quota, **extra)
    except IntegrityError:
        # The same worker's second tab got there first: resume the account it made.
        existing = ExternalWorker.objects.select_related("user", "link").filter(
            project_id=link.project_id, worker_id=worker_id
        ).first()
        if existing is None:
            raise
        return existing, False
    return worker, True


# --- While rating, and at the end ---------------------------------------------------------------


def worker_of(user) -> ExternalWorker | None:
    """The external-worker record of ``user``, or None for everyone else (one query, cached on the user)."""
    if not getattr(user, "is_authenticated", False) or user.has_usable_password():
        return None
    if not hasattr(user, "_external_worker_cache"):
        user._external_worker_cache = (
            ExternalWorker.objects.select_related("link", "project").filter(user_id=user.pk).first()
        )
    return user._external_worker_cache


def ratings_done(worker: ExternalWorker) -> int:
    return Rating.objects.filter(project_id=worker.project_id, rater_id=worker.user_id).count()


def finish(*, worker: ExternalWorker, now: datetime | None = None) -> ExternalWorker:
    """Mark the worker finished (quota met or nothing left): from now on they see the completion page."""
    ExternalWorker.objects.filter(pk=worker.pk, completed_at__isnull=True).update(completed_at=now or timezone.now())
    worker.refresh_from_db(fields=["completed_at"])
    return worker


COMPLETED_MESSAGE = "you have finished this study: your completion code is waiting."


def _completed_refusal() -> Refusal:
    return Refusal("completed", COMPLETED_MESSAGE, reverse("enrolment-complete"), navigate=True)


def quota_refusal(project: Project, rater_id: int) -> Refusal | None:
    """``assignments.gates`` claim gate: an external worker who met the quota (or finished) takes no more
    work.  No query for a project without entry links (``Project.external_workforce``)."""
    if not project.external_workforce:
        return None
    worker = ExternalWorker.objects.filter(project_id=project.pk, user_id=rater_id).values("completed_at", "quota").first()
    if worker is None:
        return None
    if worker["completed_at"] is not None or Rating.objects.filter(
        project_id=project.pk, rater_id=rater_id
    ).count() >= worker["quota"]:
        return _completed_refusal()
    return None


def exhausted_refusal(project: Project, rater_id: int) -> Refusal | None:
    """``assignments.gates`` empty-queue gate: an external worker with nothing left is done too."""
    if not project.external_workforce:
        return None
    if not ExternalWorker.objects.filter(project_id=project.pk, user_id=rater_id).exists():
        return None
    return _completed_refusal()


def screened_out(worker: ExternalWorker) -> bool:
    """Whether the worker used every attempt at the project's qualification without passing it."""
    refusal = refusal_for(worker.project, worker.user_id)
    return refusal is not None and refusal.code == TRAINING_FAILED


def is_finished(worker: ExternalWorker) -> bool:
    """Whether the worker is done: marked so, the quota met, nothing left in the project for them, or
    screened out by the qualification."""
    if worker.completed_at is not None or ratings_done(worker) >= worker.quota or screened_out(worker):
        return True
    return rater_progress(project=worker.project, rater=worker.user).left == 0


def completion_code(worker: ExternalWorker, *, screened: bool) -> str:
    link = worker.link
    return (link.screened_out_code or link.completion_code) if screened else link.completion_code


def completion_url(worker: ExternalWorker, code: str) -> str:
    """The platform's completion URL with ``code`` filled in ('' when the link names none)."""
    link = worker.link
    return link.completion_url.replace("{code}", quote(code, safe="")) if link.completion_url else ""
