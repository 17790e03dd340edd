"""Scoring responses against their references on real Celery workers (PostgreSQL, Redis).

After an import that brought reference answers, ``score_references`` splits the project's responses
into batches, each a task of its own (``score_reference_batch``), so two workers share the scoring:
each runs batches, every response ends with the libraries' numbers, and none is scored by two.  The
same workers show that a worker loads the report's statistics as it starts (``celery_app.preload``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import transaction

from evalplatform.projects.models import ReferenceScore, Response
from evalplatform.projects.services import import_items
from tests.integration.test_report_worker import wait_for
from tests.reports.test_reference_storage import items_with_references, libraries

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BATCH = 20
WORKER_ENV = {"EVAL_REFERENCE_TASK_BATCH": str(BATCH), "EVAL_REPORT_REFRESH_DELAY": "3600"}


def test_two_workers_share_the_scoring_of_an_import(make_project, start_worker):
    workers = [start_worker(concurrency=1, env=WORKER_ENV, name=f"ref{n}@%h") for n in range(2)]
    # Each worker loaded the report's statistics as it started, before its pool forked
    # (``celery_app.preload``): scipy's compiled modules are mapped in the main and the pool process.
    for worker in workers:
        for pid in (worker.proc.pid, *worker.pool_children()):
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert "/scipy/stats/" in maps, pid
            assert "/scipy/sparse/csgraph/" in maps, pid
    project = make_project("scored-by-two")
    with transaction.atomic():  # the scoring task leaves after this commit, as in a real import
        import_items(project=project, stream=items_with_references(150), fmt="jsonl")
    responses = Response.objects.filter(item__project=project)
    assert responses.count() == 300
    stored = ReferenceScore.objects.filter(response__item__project=project)
    wait_for(lambda: stored.count() == 300, 120, "every response scored")

    batches = [re.findall(r"score_reference_batch\[[^\]]+\] succeeded in [^:]+: (\d+)", w.log.read_text())
               for w in workers]
    assert all(batches), f"each worker ran batches: {[len(b) for b in batches]}"
    scored = [int(n) for b in batches for n in b]
    assert len(scored) == -(-300 // BATCH)  # every batch ran once
    assert sum(scored) == 300  # no response scored twice
    for row in stored.select_related("response__item").order_by("pk")[::37]:
        expected = libraries(row.response.text, row.response.item.reference)
        assert {f: getattr(row, f) for f in expected} == expected
