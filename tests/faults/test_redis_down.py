"""Redis stopped while raters submit: the ratings save, and the report catches up once Redis is back.

The test runs a Redis server of its own (on a free port) so it can stop and start it without
touching the shared one, a real Celery worker against it, and raters submitting through the API.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.projects.models import Project
from evalplatform.ratings.models import Rating
from evalplatform.reports.models import AgreementReport
from tests.integration.conftest import Worker, _drop_connections

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SCORES = {"accuracy": 4, "helpfulness": 3, "harmless": 1}


class OwnRedis:
    def __init__(self, tmp: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path, settings) -> Iterator[OwnRedis]:
    from evalplatform.celery_app import app

    server = OwnRedis(tmp_path)
    server.start()
    queue = f"redis-down-{uuid.uuid4().hex[:8]}"
    saved = {k: app.conf.get(k) for k in ("broker_url", "task_always_eager", "task_default_queue")}
    app.conf.update(broker_url=server.url, task_always_eager=False, task_default_queue=queue)
    _drop_connections(app)
    settings.REDIS_URL = server.url
    settings.EVAL_TASK_RUNNER = "celery"
    settings.EVAL_REPORT_REFRESH_DELAY = 1
    settings.EVAL_LOST_REFRESH_AFTER = 1
    server.queue = queue
    try:
        yield server
    finally:
        server.stop()
        app.conf.update(saved)
        _drop_connections(app)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_submissions_save_while_redis_is_down_and_the_report_catches_up(own_redis, make_project, tmp_path):
    project = make_project(items=4, raters=("alice", "bob"))
    worker = Worker(own_redis.queue, own_redis.url, tmp_path / "worker.log", prefix="").start(
        env={"EVAL_LOST_REFRESH_AFTER": "1", "EVAL_REPORT_REFRESH_DELAY": "1"}
    )
    try:
        clients = {}
        for name in ("alice", "bob"):
            user = project.memberships.get(user__username=name).user
            clients[name] = APIClient()
            clients[name].credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")

        own_redis.stop()
        acknowledged = []
        for _ in range(3):
            for client in clients.values():
                assignment = client.post(f"/api/projects/{project.pk}/next/").json()["id"]
                started = time.monotonic()
                response = client.post(f"/api/assignments/{assignment}/submit/", {"scores": SCORES}, format="json")
                assert response.status_code == 201, response.content
                assert time.monotonic() - started < 10, "a submission waited on the absent broker"
                acknowledged.append(response.json()["id"])

        assert Rating.objects.filter(pk__in=acknowledged).count() == len(acknowledged) == 6
        project.refresh_from_db()
        assert project.ratings_seq == 6
        assert project.refresh_due_at is not None  # a refresh is owed
        assert not AgreementReport.objects.filter(project=project, status="done").exists()

        own_redis.start()  # Redis is back (empty: it kept nothing on disk)
        # The periodic sweep, as beat would send it, finds the owed refresh and enqueues it.
        from evalplatform.reports.tasks import sweep_report_refreshes

        time.sleep(1.5)  # past EVAL_LOST_REFRESH_AFTER
        wait_for(lambda: _send(sweep_report_refreshes), 60, "the broker to accept the sweep")
        report = wait_for(
            lambda: AgreementReport.objects.filter(project=project, status="done", data_seq=6).first(),
            90, "a report covering every rating",
        )
        assert report.n_ratings == 6
        assert Project.objects.get(pk=project.pk).refresh_due_at is None
    finally:
        worker.stop()


def _send(task) -> bool:
    try:
        task.apply_async()
    except Exception:
        return False
    return True
