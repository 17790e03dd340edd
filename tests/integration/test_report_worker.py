"""Reports computed by real Celery workers against PostgreSQL and Redis.

Run with ``DATABASE_URL=postgres://... TEST_REDIS_URL=redis://.../15``.  Each test starts
``celery -A evalplatform.celery_app worker`` processes (``conftest.Worker``) on a queue and key prefix of its own.

Crash and redelivery, made deterministic: the task is ``acks_late`` + ``reject_on_worker_lost``, and
a test-only report section (``slow_section``, enabled per worker through the environment) sleeps at
the end of the computation so the test can SIGKILL the worker while the report is ``running``.

- Killing the pool process: the worker's main process sees its child die and, because of
  ``reject_on_worker_lost``, puts the message back at once; the same worker runs it again.
- Killing the whole worker (main process and children, like a machine dying): nothing acknowledges
  or rejects the message, so it sits in Redis' unacknowledged set.  Redis hands it out again only
  once it is older than the visibility timeout (production: 3600 s), at the next worker's start or
  its periodic restore.  The test worker gets an 8 s timeout (``EVAL_TEST_VISIBILITY_TIMEOUT``), and
  the test starts a second worker once those 8 s have passed: redelivery is then certain, not a race.
  The sleeping section is shorter than the timeout, so no worker ever gets a message it is running.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from evalplatform.projects.models import Membership
from evalplatform.ratings.services import submit_rating
from evalplatform.reports import compute, services
from evalplatform.reports.models import AgreementReport
from tests.fixtures import GOOD, next_assignment
from tests.reports.conftest import rated_project  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
VISIBILITY = 8
SLOW = 3
VOLATILE = ("timings", "computed_in_seconds", "slow")


@pytest.fixture
def quiet(monkeypatch):
    """No automatic refreshes while a test builds its data: only the reports it asks for exist."""
    monkeypatch.setattr(services, "schedule_refresh", lambda **kwargs: False)


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def comparable(result: dict) -> dict:
    """The result without timings and without the test-only slow section."""
    out = {k: v for k, v in result.items() if k not in VOLATILE}
    out["sections"] = [s for s in result["sections"] if s not in VOLATILE]
    return out


def load(report_id: int) -> AgreementReport:
    return AgreementReport.objects.get(pk=report_id)


def in_the_last_section(report_id: int) -> bool:
    """True once every real section is done and the worker sleeps in the slow one (which is last)."""
    n = len(compute.SECTIONS) + 1
    report = load(report_id)
    return report.status == "running" and report.progress >= 0.1 + 0.85 * (n - 1) / n - 1e-6


def watch_until_done(report_id: int, timeout: float) -> list[tuple[str, bool]]:
    """Poll the report until it is done; every observation is (status, has a result)."""
    seen: list[tuple[str, bool]] = []

    def done() -> bool:
        report = load(report_id)
        seen.append((report.status, report.result is not None))
        assert report.status != "failed", report.error
        return report.status == "done"

    wait_for(done, timeout, "the report to be done")
    return seen


def in_process(project, **parameters) -> AgreementReport:
    return services.compute(report_id=services.create_report(project=project, **parameters).pk)


def test_a_report_computed_by_a_worker_equals_the_one_computed_in_process(quiet, rated_project, start_worker):  # noqa: F811
    project = rated_project("worker", items=12, models=("m1", "m2"))
    worker = start_worker()
    report = services.request_report(project=project, bootstrap=300, seed=11)  # enqueued to Redis
    watch_until_done(report.pk, 60)
    done = load(report.pk)
    assert done.attempts == 1
    assert done.data_seq == project.ratings_seq
    assert done.n_ratings == 72
    assert "evalplatform.reports.tasks.compute_report" in worker.log.read_text()
    local = in_process(project, bootstrap=300, seed=11)
    assert comparable(done.result) == comparable(local.result)


def test_killing_the_pool_process_mid_report_requeues_it_and_the_worker_finishes_it(
    quiet, rated_project, start_worker  # noqa: F811
):
    project = rated_project("pool", items=8, models=("m1", "m2"))
    worker = start_worker(env={"EVAL_TEST_SLOW_SECTION": str(SLOW)})
    report = services.request_report(project=project, bootstrap=200, seed=2)
    wait_for(lambda: in_the_last_section(report.pk), 60, "the worker to reach the slow section")
    (child,) = worker.pool_children()
    os.kill(child, signal.SIGKILL)
    mid = load(report.pk)
    assert mid.status == "running"
    assert mid.result is None
    assert mid.attempts == 1
    seen = watch_until_done(report.pk, 60)
    assert all(has_result for status, has_result in seen if status == "done")
    done = load(report.pk)
    assert done.attempts == 2
    assert done.result["slow"]["pid"] != child
    assert comparable(done.result) == comparable(in_process(project, bootstrap=200, seed=2).result)
    assert "WorkerLostError" in worker.log.read_text()


def test_a_report_whose_worker_was_killed_is_redelivered_and_finished_by_another(
    quiet, rated_project, start_worker  # noqa: F811
):
    project = rated_project("crash", items=8, models=("m1", "m2"))
    env = {"EVAL_TEST_SLOW_SECTION": str(SLOW), "EVAL_TEST_VISIBILITY_TIMEOUT": str(VISIBILITY)}
    first = start_worker(env=env)
    report = services.request_report(project=project, bootstrap=200, seed=4)
    wait_for(lambda: in_the_last_section(report.pk), 60, "the worker to reach the slow section")
    delivered = time.monotonic() - (time.time() - load(report.pk).started_at.timestamp())
    first.kill()  # SIGKILL to the main process and its pool: nothing acknowledges or rejects the message

    # Nobody finishes it while no worker runs: it stays running, with no result.
    time.sleep(1)
    stuck = load(report.pk)
    assert stuck.status == "running"
    assert stuck.result is None
    assert stuck.attempts == 1

    # Once the message is older than the visibility timeout, a newly started worker restores and runs it.
    time.sleep(max(0.0, delivered + VISIBILITY + 0.5 - time.monotonic()))
    second = start_worker(env=env)
    seen = watch_until_done(report.pk, 60)
    assert ("running", False) in seen
    assert all(has_result for status, has_result in seen if status == "done")
    done = load(report.pk)
    assert done.attempts == 2
    assert done.data_seq == project.ratings_seq
    assert comparable(done.result) == comparable(in_process(project, bootstrap=200, seed=4).result)
    log = second.log.read_text()
    assert "compute_report" in log
    assert "succeeded" in log  # the second worker ran it


def test_a_burst_of_submissions_causes_a_handful_of_refreshes(make_project, start_worker, settings):
    settings.EVAL_REPORT_REFRESH_DELAY = 1
    project = make_project("burst", items=100, overlap=3, raters=("r1", "r2", "r3"))
    start_worker()
    started = time.monotonic()
    submissions = 0
    for membership in Membership.objects.filter(project=project, role="rater").select_related("user"):
        for _ in range(100):
            # A report run that holds key-share locks on task rows (a section writing rows that point
            # at tasks) makes the queue's SKIP LOCKED pass those tasks by: wait for them, do not stop.
            assignment = wait_for(lambda m=membership: next_assignment(project=project, rater=m.user), 10, "a task")
            submit_rating(assignment=assignment, scores=GOOD)
            submissions += 1
        assert next_assignment(project=project, rater=membership.user) is None
    elapsed = time.monotonic() - started
    project.refresh_from_db()
    assert submissions == 300
    assert project.ratings_seq == 300

    def settled() -> bool:
        latest = services.latest_done(project)
        idle = not project.reports.filter(status__in=services.PENDING).exists()
        return latest is not None and latest.data_seq == 300 and idle

    wait_for(settled, 90, "the refreshes to catch up with every rating", interval=0.2)
    refreshes = project.reports.filter(trigger="refresh")
    print(f"{submissions} submissions in {elapsed:.1f} s -> {refreshes.count()} refresh computations")
    failed = list(refreshes.exclude(status="done").values_list("pk", "status", "error"))
    assert not failed, failed
    # One computation per debounce window (1 s) at most, plus the one after the last submission.
    assert 1 <= refreshes.count() <= elapsed / settings.EVAL_REPORT_REFRESH_DELAY + 3, (refreshes.count(), elapsed)
    # and far fewer than one per submission: a burst is computed a handful of times.  (A fixed bound of
    # 30 failed on a loaded machine, where the same 300 submissions take longer and so span more windows.)
    assert refreshes.count() <= submissions // 5, refreshes.count()


def test_a_runaway_report_is_stopped_by_the_time_limit_and_marked_failed(
    quiet, rated_project, start_worker  # noqa: F811
):
    """A report that runs past the soft limit is interrupted inside the task and failed with the reason,
    long before the broker would hand its message to another worker.

    The limit is the worker's own (its settings, 4 s here), not the sender's: this test process keeps the
    default limits of nearly an hour, which would never stop the report if they travelled in the message.
    """
    from evalplatform.reports import tasks

    assert tasks.compute_report.soft_time_limit > 600  # the sender's own limit
    project = rated_project("runaway", items=6, models=("m1",))
    worker = start_worker(env={"EVAL_TEST_SLOW_SECTION": "600", "EVAL_TASK_SOFT_TIME_LIMIT": "4",
                               "EVAL_TASK_TIME_LIMIT": "30"})
    report = services.request_report(project=project, bootstrap=50, seed=1)
    wait_for(lambda: load(report.pk).status == "running", 60, "the worker to start the report")
    failed = wait_for(lambda: (r := load(report.pk)).status == "failed" and r, 60, "the time limit to stop it")
    assert "time limit" in failed.error
    assert failed.result is None
    assert failed.finished_at is not None
    assert "Soft time limit (4s) exceeded" in worker.log.read_text()
    assert worker.proc.poll() is None  # the worker lives on for the next report

