"""Agreement reports: requested by leads or by new ratings, computed by Celery workers, stored.

Statistics never run in a web request: a page or the API reads the stored ``AgreementReport``.
A computation is idempotent and safe to retry: it marks itself running, computes from one consistent
read of the data, and stores the result with one conditional update, so a worker killed half-way
leaves the report ``running`` (the redelivered or retried task finishes it), never ``done`` with
partial data.  A database error that may pass (``RETRYABLE``) leaves the report running for the
task's retry; any other error marks it ``failed`` with the reason.  A report nobody finishes (its
message lost with the broker) is failed by the periodic sweep, so nothing stays "running" forever.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, JSONField, Q, Value
from django.db.models.functions import Cast
from django.utils import timezone

from evalplatform.dispatch import enqueue, runner
from evalplatform.projects.models import Project
from evalplatform.reports.models import AgreementReport

log = logging.getLogger(__name__)

DEFAULT_PARAMETERS = {
    "bootstrap": 1000, "seed": 0, "include_automated": False, "include_paused": True, "include_gold": False,
    "icc": False,
}
#: Errors that may pass (a database restarting, a dropped connection): the task retries with backoff.
RETRYABLE = (OperationalError, InterfaceError)
PENDING = (AgreementReport.Status.QUEUED, AgreementReport.Status.RUNNING)
#: The tasks these services enqueue, by name (``tasks.py`` imports this module, not the reverse).
COMPUTE_TASK = "evalplatform.reports.tasks.compute_report"
REFRESH_TASK = "evalplatform.reports.tasks.refresh_project_report"
#: Follow-ups of a report just stored as done, registered by apps above this one (``on_report_done``):
#: the suites app sends its "report ready" webhook from here.  Called by ``compute`` only for the run
#: that stored the result; a hook that raises is logged and never undoes the report.
_DONE_HOOKS: list[Callable[[AgreementReport], None]] = []


def on_report_done(hook: Callable[[AgreementReport], None]) -> None:
    """Call ``hook(report)`` after every report computation that stores a result.  From ``AppConfig.ready()``."""
    if hook not in _DONE_HOOKS:
        _DONE_HOOKS.append(hook)


def lost_refresh_after() -> timedelta:
    """A refresh scheduled this long ago and never started is taken as lost (broker down) and redone."""
    return timedelta(seconds=settings.EVAL_LOST_REFRESH_AFTER)


def ratings_changed(project_id: int) -> None:
    """Ratings of the project changed (and committed): schedule its debounced refresh.  Registered
    with ``ratings.changes.on_ratings_changed`` in ``ReportsConfig.ready()``."""
    schedule_refresh(project_id=project_id)


def schedule_refresh(*, project_id: int, delay: float | None = None) -> bool:
    """Enqueue one refresh for the project unless one is already pending: the debounce.

    Submissions within the delay share one computation.  Returns whether a task was enqueued.  If the
    broker is unreachable the ratings are safe (they are in the database) and the periodic sweep
    enqueues the refresh once the broker is back.
    """
    delay = settings.EVAL_REPORT_REFRESH_DELAY if delay is None else delay
    now = timezone.now()
    claimed = Project.objects.filter(
        Q(refresh_due_at__isnull=True) | Q(refresh_due_at__lt=now - lost_refresh_after()), pk=project_id
    ).update(refresh_due_at=now + timedelta(seconds=delay))
    if not claimed:
        return False
    try:
        enqueue(REFRESH_TASK, project_id, countdown=delay)
    except Exception:  # the broker is down: the sweep will pick this project up again
        log.warning("could not enqueue the report refresh of project %s; the sweep will retry", project_id,
                    exc_info=True)
        return False
    return True


def sweep_refreshes() -> int:
    """Re-enqueue refreshes whose message was lost (broker down when scheduled), and fail reports
    nobody finished (``fail_lost_reports``).  Periodic."""
    now = timezone.now()
    lost = list(
        Project.objects.filter(refresh_due_at__lt=now - lost_refresh_after()).values_list("pk", flat=True)
    )
    for project_id in lost:
        schedule_refresh(project_id=project_id, delay=0)
    fail_lost_reports()
    return len(lost)


def lost_after() -> timedelta:
    """How long a report may stay queued or running before it is taken as lost: twice the broker's
    visibility timeout, after which Redis would have redelivered its task had the message survived."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    return timedelta(seconds=2 * float(options.get("visibility_timeout", 3600)))


def fail_lost_reports(*, now=None) -> int:
    """Mark failed the reports queued or running for longer than ``lost_after()``."""
    cutoff = (now or timezone.now()) - lost_after()
    stuck = AgreementReport.objects.filter(
        Q(status=AgreementReport.Status.QUEUED, created_at__lt=cutoff)
        | Q(status=AgreementReport.Status.RUNNING, started_at__lt=cutoff)
    )
    return stuck.update(
        status=AgreementReport.Status.FAILED, finished_at=timezone.now(),
        error="lost: no worker finished this report (its task was lost); request a new one",
    )


def clean_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The report's parameters with defaults filled in, or ``ValueError`` saying what is wrong."""
    unknown = set(parameters) - set(DEFAULT_PARAMETERS)
    if unknown:
        raise ValueError(f"unknown report parameter(s): {', '.join(sorted(unknown))}")
    params = {**DEFAULT_PARAMETERS, **{k: v for k, v in parameters.items() if v is not None}}
    bootstrap, seed = params["bootstrap"], params["seed"]
    if not isinstance(bootstrap, int) or isinstance(bootstrap, bool) or not 0 <= bootstrap <= 20000:
        raise ValueError("bootstrap must be a whole number of resamples between 0 and 20000")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError("seed must be a whole number between 0 and 2**32 - 1")
    for flag in ("include_automated", "include_paused", "include_gold", "icc"):
        if not isinstance(params[flag], bool):
            raise ValueError(f"{flag} must be true or false")
    return params


def create_report(*, project: Project, requested_by=None, trigger: str = "manual", **parameters: Any) -> AgreementReport:
    """A queued report with validated parameters; nothing is enqueued (see ``request_report``)."""
    return AgreementReport.objects.create(
        project=project, parameters=clean_parameters(parameters), requested_by=requested_by, trigger=trigger
    )


def request_report(*, project: Project, requested_by=None, trigger: str = "manual", **parameters: Any) -> AgreementReport:
    """Create a queued report and enqueue its computation after commit."""
    report = create_report(project=project, requested_by=requested_by, trigger=trigger, **parameters)
    transaction.on_commit(lambda: _enqueue_compute(report.pk))
    return report


def _enqueue_compute(report_id: int) -> None:
    try:
        enqueue(COMPUTE_TASK, report_id)
    except Exception as exc:
        # Broker unreachable (or, in-process, the computation itself failed): the lead sees a failed
        # report with the reason instead of one queued forever, and the request still succeeds.
        log.warning("report %s: could not run its computation (%s mode)", report_id, runner(), exc_info=True)
        mark_failed(report_id=report_id, error=f"could not start the computation: {describe(exc)}")


def refresh(*, project_id: int) -> AgreementReport | None:
    """The debounced refresh: clear the pending mark, then compute a fresh report in this worker.

    A retried or redelivered refresh finishes the refresh report it created before (still queued or
    running) instead of starting another.  The parameters are the newest report's that did not fail
    (``parameters_in_force``: bootstrap, seed, which ratings count), so a lead's choice outlives refreshes.
    """
    Project.objects.filter(pk=project_id).update(refresh_due_at=None)
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return None
    latest = latest_done(project)
    if latest is not None and latest.data_seq == project.ratings_seq:
        return latest  # nothing changed since the last result
    report = (
        project.reports.filter(trigger="refresh", status__in=PENDING).order_by("-created_at", "-id").first()
    )
    if report is None:
        report = AgreementReport.objects.create(
            project=project, parameters={**DEFAULT_PARAMETERS, **parameters_in_force(project)}, trigger="refresh"
        )
    return compute(report_id=report.pk)


def inherited_parameters(report: AgreementReport | None) -> dict[str, Any]:
    """The parameters of ``report`` that a refresh or a recompute keeps (the known ones); {} for None."""
    return {k: v for k, v in (report.parameters if report else {}).items() if k in DEFAULT_PARAMETERS}


def parameters_in_force(project: Project) -> dict[str, Any]:
    """The parameters a new report keeps unless told otherwise: those of the project's newest report
    that did not fail (a lead's request counts from the moment it is made); {} if there is none."""
    # only the parameters: a large project's stored result is tens of MB of JSON to read and parse
    newest = (project.reports.exclude(status=AgreementReport.Status.FAILED).order_by("-created_at", "-id")
              .only("parameters").first())
    return inherited_parameters(newest)


def describe(exc: BaseException) -> str:
    # Imported here: every command loads this module at start-up, and only a failed report needs Celery.
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, SoftTimeLimitExceeded):
        return (f"stopped: the computation ran past its time limit ({settings.CELERY_TASK_SOFT_TIME_LIMIT} s, "
                "EVAL_TASK_SOFT_TIME_LIMIT); try fewer bootstrap resamples")
    notes = "; ".join(getattr(exc, "__notes__", ()))
    return f"{type(exc).__name__}: {exc}" + (f" ({notes})" if notes else "")


def _snapshot(project: Project, parameters: dict[str, Any]):
    """The report's data, read in one transaction where that gives one consistent snapshot without
    blocking writers (PostgreSQL REPEATABLE READ).  On SQLite a transaction would take the write
    lock (IMMEDIATE mode), so the reads run one by one; ``data_seq`` is read first, so it never
    claims more than the result covers."""
    from evalplatform.reports.data import load_data

    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return load_data(project, parameters)
    return load_data(project, parameters)


def compute(*, report_id: int) -> AgreementReport | None:
    """Compute a stored report.  Idempotent: a done or failed report is left as it is.

    A queued report, or a running one whose worker died (redelivered task), is (re)claimed and
    computed from scratch; the result, its data sequence and ``done`` are written by one conditional
    update, so a report is never done with part of a result.
    """
    from evalplatform.reports.compute import build_result

    claimed = AgreementReport.objects.filter(pk=report_id, status__in=PENDING).update(
        status=AgreementReport.Status.RUNNING, started_at=timezone.now(), progress=0.0, attempts=F("attempts") + 1
    )
    if not claimed:
        return AgreementReport.objects.filter(pk=report_id).first()
    report = AgreementReport.objects.select_related("project").get(pk=report_id)

    def progress(fraction: float) -> None:
        AgreementReport.objects.filter(pk=report_id, status=AgreementReport.Status.RUNNING).update(
            progress=max(0.0, min(0.99, fraction))
        )

    try:
        gc.freeze()  # as ``build_result`` does for the sections: the heap already there is not walked again
        try:
            data = _snapshot(report.project, report.parameters)
        finally:
            gc.unfreeze()
        result, n_ratings = build_result(report.project, report.parameters, progress=progress, data=data)
        # A NaN or a numpy number fails here, on every database; the text is what is stored (cast to the
        # column's JSON type), so the result is serialised once (20 MB and 0.2 s on a 20,000-item project).
        text = json.dumps(result, allow_nan=False)
        stored = AgreementReport.objects.filter(pk=report_id, status=AgreementReport.Status.RUNNING).update(
            status=AgreementReport.Status.DONE, result=Cast(Value(text), output_field=JSONField()),
            data_seq=data.data_seq, n_ratings=n_ratings,
            progress=1.0, finished_at=timezone.now(), error="",
        )
    except RETRYABLE:
        raise  # the report stays running: the task's retry computes it again
    except Exception as exc:
        mark_failed(report_id=report_id, error=describe(exc))
        raise
    done = AgreementReport.objects.defer("result").get(pk=report_id)
    if stored:
        # the result this run just stored, rather than read back and parsed again (a large project's is
        # tens of MB of JSON; a report someone else finished meanwhile reads its own when asked)
        done.result = result
        for hook in list(_DONE_HOOKS):
            try:
                hook(done)
            except Exception:
                log.exception("report %s: a report-done hook (%s) failed", report_id, getattr(hook, "__name__", hook))
    return done


def mark_failed(*, report_id: int, error: str) -> None:
    """Mark a queued or running report failed (best effort: the database may be what failed)."""
    try:
        AgreementReport.objects.filter(pk=report_id, status__in=PENDING).update(
            status=AgreementReport.Status.FAILED, error=error[:5000], finished_at=timezone.now()
        )
    except DatabaseError:
        log.exception("could not mark report %s failed", report_id)


def fail_pending_refresh(*, project_id: int, error: str) -> None:
    """Fail the refresh report a refresh task gave up on (its retries exhausted)."""
    for report_id in AgreementReport.objects.filter(
        project_id=project_id, trigger="refresh", status__in=PENDING
    ).values_list("pk", flat=True):
        mark_failed(report_id=report_id, error=error)


def latest_done(project: Project) -> AgreementReport | None:
    """The done report computed from the newest data (of those, the last finished)."""
    return (
        project.reports.filter(status=AgreementReport.Status.DONE)
        .order_by("-data_seq", "-finished_at", "-id").first()
    )
