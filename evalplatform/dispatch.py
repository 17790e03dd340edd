"""How a Celery task leaves the process that asks for it.

With ``REDIS_URL`` set, tasks go to the broker and real workers run them (``apply_async``).
Without it (the embedded mode of ``make run``) there is no worker, so the task runs in-process: in a
background thread after its countdown (so a rater's request never waits on a statistics run), or
synchronously when ``EVAL_TASK_RUNNER=sync`` (the test default, for determinism).
Always call ``enqueue`` from ``transaction.on_commit`` or outside a transaction, so a worker never
looks for a row that is not committed yet.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)


def runner() -> str:
    configured = getattr(settings, "EVAL_TASK_RUNNER", "")
    if configured:
        return configured
    return "celery" if not settings.CELERY_TASK_ALWAYS_EAGER else "thread"


def enqueue(task, *args: Any, countdown: float = 0, **kwargs: Any) -> None:
    """Run ``task(*args, **kwargs)`` on a worker, or in-process in the embedded mode."""
    mode = runner()
    if mode == "celery":
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown or None)
    elif mode == "sync":
        task.apply(args=args, kwargs=kwargs)
    else:
        timer = threading.Timer(countdown, _run_in_thread, args=(task, args, kwargs))
        timer.daemon = True
        timer.start()


def _run_in_thread(task, args, kwargs) -> None:
    close_old_connections()
    try:
        task.apply(args=args, kwargs=kwargs)
    except Exception:
        log.exception("in-process task %s failed", task.name)
    finally:
        connections.close_all()
