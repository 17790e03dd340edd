"""Real Celery workers against PostgreSQL and Redis.

A worker here is a separate ``celery -A evalplatform.celery_app worker`` process (so a test can SIGKILL it),
pointed at the test database and at Redis, consuming a queue named for this test, with every Redis
key of the test under a prefix of its own (the queue and the unacknowledged messages kombu keeps
for redelivery), so neither stray workers nor another test running in parallel see its tasks.
Workers use ``tests.integration.worker_settings``; ``start(env={...})`` sets its knobs (a short
visibility timeout, a slow report section).  Tests using it must be
``@pytest.mark.django_db(transaction=True)`` so the worker sees committed rows, and marked
``postgres`` and ``redis``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests.conftest import redis_url

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the test database this process uses (pytest-django renamed it ``test_...``)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, queue: str, broker: str, log: Path, prefix: str):
        self.queue, self.broker, self.log, self.prefix = queue, broker, log, prefix
        self.proc: subprocess.Popen | None = None

    def start(self, *, concurrency: int = 1, name: str | None = None, env: dict[str, str] | None = None) -> Worker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.integration.worker_settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": self.broker,
            "EVAL_TASK_RUNNER": "celery",
            "CELERY_QUEUE": self.queue,
            "EVAL_TEST_KEYPREFIX": self.prefix,
            "EVAL_REPORT_REFRESH_DELAY": os.environ.get("EVAL_REPORT_REFRESH_DELAY", "1"),
            **(env or {}),
        }
        self._handle = handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "evalplatform.celery_app", "worker", "-Q", self.queue, "-P", "prefork",
             "-c", str(concurrency), "-n", name or f"w-{uuid.uuid4().hex[:6]}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-3000:]}")
            if b"ready." in self.log.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def pool_children(self) -> list[int]:
        """Pids of the worker's pool processes (the children of its main process)."""
        if not self.proc:
            return []
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): a machine dying mid-task."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_handle", None) is not None:
            self._handle.close()


def _drop_connections(app) -> None:
    """Forget broker connections and producers made for another broker or key prefix."""
    if getattr(app, "_pool", None) is not None:
        app._pool.force_close_all()
        app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@pytest.fixture
def celery_broker(settings) -> Iterator[tuple[str, str, str]]:
    """Route this process's task sends to Redis, on a queue and under a key prefix of this test's own."""
    url = redis_url()
    if url is None:
        pytest.skip("needs Redis (TEST_REDIS_URL)")  # the service marker has already failed it in CI
    from evalplatform.celery_app import app

    queue = f"test-{uuid.uuid4().hex[:10]}"
    prefix = f"{queue}:"
    keys = ("broker_url", "task_always_eager", "task_default_queue", "broker_transport_options")
    saved = {k: app.conf.get(k) for k in keys}
    options = {**(saved["broker_transport_options"] or {}), "global_keyprefix": prefix}
    app.conf.update(broker_url=url, task_always_eager=False, task_default_queue=queue,
                    broker_transport_options=options)
    _drop_connections(app)
    settings.REDIS_URL = url
    settings.EVAL_TASK_RUNNER = "celery"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        yield url, queue, prefix
    finally:
        app.conf.update(saved)
        _drop_connections(app)
        import redis

        client = redis.Redis.from_url(url)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)


@pytest.fixture
def start_worker(celery_broker, tmp_path) -> Iterator:
    url, queue, prefix = celery_broker
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(queue, url, tmp_path / f"worker-{len(workers)}.log", prefix).start(**kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
