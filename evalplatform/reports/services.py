"""Agreement reports: requested by leads or by new ratings, computed by Celery workers, stored.

Statistics never run in a web request: a page or the API reads the stored ``AgreementReport``.
A computation is idempotent and safe to retry: it marks itself running, computes from one consistent
read of the data, and stores the result with one conditional update, so a worker killed half-way
leaves the report ``running`` (the retried task finishes it), never ``done`` with partial data, and a
stale run never overwrites a result computed from newer data.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from evalplatform.dispatch import enqueue
from evalplatform.projects.models import Project
from evalplatform.reports.models import AgreementReport

log = logging.getLogger(__name__)

DEFAULT_PARAMETERS = {"bootstrap": 1000, "seed": 0, "include_automated": False, "include_paused": True}
# A refresh scheduled this long ago and never started is taken as lost (broker down) and redone.
LOST_REFRESH_AFTER = timedelta(minutes=2)


def note_ratings_changed(*, project_id: int, count: int = 1) -> None:
    """Record that ratings changed and schedule a debounced report refresh after commit.

    Call inside the transaction that writes the ratings: the sequence bump commits with them.
    """
    Project.objects.filter(pk=project_id).update(ratings_seq=F("ratings_seq") + count)
    transaction.on_commit(lambda: schedule_refresh(project_id=project_id))


def schedule_refresh(*, project_id: int, delay: float | None = None) -> bool:
    """Enqueue one refresh for the project unless one is already pending: the debounce.

    Submissions within the delay share one computation.  Returns whether a task was enqueued.  If the
    broker is unreachable the ratings are safe (they are in the database) and the periodic sweep
    enqueues the refresh once the broker is back.
    """
    delay = settings.EVAL_REPORT_REFRESH_DELAY if delay is None else delay
    now = timezone.now()
    claimed = Project.objects.filter(
        Q(refresh_due_at__isnull=True) | Q(refresh_due_at__lt=now - LOST_REFRESH_AFTER), pk=project_id
    ).update(refresh_due_at=now + timedelta(seconds=delay))
    if not claimed:
        return False
    from evalplatform.reports.tasks import refresh_project_report

    try:
        enqueue(refresh_project_report, project_id, countdown=delay)
    except Exception:  # the broker is down: the sweep will pick this project up again
        log.warning("could not enqueue the report refresh of project %s; the sweep will retry", project_id,
                    exc_info=True)
        return False
    return True


def sweep_refreshes() -> int:
    """Re-enqueue refreshes whose message was lost (broker down when scheduled).  Periodic."""
    now = timezone.now()
    lost = list(
        Project.objects.filter(refresh_due_at__lt=now - LOST_REFRESH_AFTER).values_list("pk", flat=True)
    )
    for project_id in lost:
        schedule_refresh(project_id=project_id, delay=0)
    return len(lost)


def request_report(*, project: Project, requested_by=None, trigger: str = "manual", **parameters: Any) -> AgreementReport:
    """Create a queued report and enqueue its computation after commit."""
    params = {**DEFAULT_PARAMETERS, **{k: v for k, v in parameters.items() if v is not None}}
    bootstrap = params["bootstrap"]
    if not isinstance(bootstrap, int) or isinstance(bootstrap, bool) or not 0 <= bootstrap <= 20000:
        raise ValueError("bootstrap must be a whole number of resamples between 0 and 20000")
    report = AgreementReport.objects.create(
        project=project, parameters=params, requested_by=requested_by, trigger=trigger
    )
    from evalplatform.reports.tasks import compute_report

    transaction.on_commit(lambda: enqueue(compute_report, report.pk))
    return report


def refresh(*, project_id: int) -> AgreementReport | None:
    """The debounced refresh: clear the pending mark, then compute a fresh report in this worker."""
    Project.objects.filter(pk=project_id).update(refresh_due_at=None)
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return None
    latest = latest_done(project)
    if latest is not None and latest.data_seq == project.ratings_seq:
        return latest  # nothing changed since the last result
    params = dict(latest.parameters) if latest is not None else {}
    report = AgreementReport.objects.create(
        project=project, parameters={**DEFAULT_PARAMETERS, **params}, trigger="refresh"
    )
    compute(report_id=report.pk)
    return report


def compute(*, report_id: int) -> AgreementReport | None:
    """Compute a stored report.  Idempotent: a done or failed report is left as it is."""
    from evalplatform.reports.compute import build_result

    started = timezone.now()
    claimed = AgreementReport.objects.filter(
        pk=report_id, status__in=[AgreementReport.Status.QUEUED, AgreementReport.Status.RUNNING]
    ).update(status=AgreementReport.Status.RUNNING, started_at=started, progress=0.0, attempts=F("attempts") + 1)
    if not claimed:
        return AgreementReport.objects.filter(pk=report_id).first()
    report = AgreementReport.objects.select_related("project").get(pk=report_id)
    t0 = time.perf_counter()

    def progress(fraction: float) -> None:
        AgreementReport.objects.filter(pk=report_id, status=AgreementReport.Status.RUNNING).update(
            progress=max(0.0, min(1.0, fraction))
        )

    # One consistent snapshot: on PostgreSQL REPEATABLE READ would be stricter, but reading the
    # sequence first means the stored data_seq never claims more than the result covers.
    data_seq = Project.objects.values_list("ratings_seq", flat=True).get(pk=report.project_id)
    result, n_ratings = build_result(report.project, report.parameters, progress=progress)
    result["computed_in_seconds"] = round(time.perf_counter() - t0, 3)
    AgreementReport.objects.filter(
        Q(data_seq__isnull=True) | Q(data_seq__lte=data_seq),
        pk=report_id, status=AgreementReport.Status.RUNNING,
    ).update(
        status=AgreementReport.Status.DONE, result=result, data_seq=data_seq, n_ratings=n_ratings,
        progress=1.0, finished_at=timezone.now(), error="",
    )
    return AgreementReport.objects.get(pk=report_id)


def mark_failed(*, report_id: int, error: str) -> None:
    AgreementReport.objects.filter(
        pk=report_id, status__in=[AgreementReport.Status.QUEUED, AgreementReport.Status.RUNNING]
    ).update(status=AgreementReport.Status.FAILED, error=error[:5000], finished_at=timezone.now())


def latest_done(project: Project) -> AgreementReport | None:
    return project.reports.filter(status=AgreementReport.Status.DONE).order_by("-finished_at", "-id").first()
