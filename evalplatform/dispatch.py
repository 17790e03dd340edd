"""How a Celery task leaves the process that asks for it.

A service names the task it wants run by its dotted path (``"evalplatform.reports.tasks.compute_report"``,
which is also the task's Celery name), so ``services.py`` never imports its own ``tasks.py`` (which
imports the services): the dependency runs one way, tasks → services.

With ``REDIS_URL`` set, tasks go to the broker and real workers run them (``apply_async``).
Without it (the embedded mode of ``make run``) there is no worker, so the task runs in-process: in a
background thread after its countdown (so a rater's request never waits on a statistics run), or
synchronously when ``EVAL_TASK_RUNNER=sync`` (the test default, for determinism).
Always call ``enqueue`` from ``transaction.on_commit`` or outside a transaction, so a worker never
looks for a row that is not committed yet.

The Celery app (``evalplatform.celery_app``) is imported here, on the first send, and not by the
package's ``__init__``: ``shared_task`` functions bind to the app that is current when they are
called, so loading it before the first send is enough, and a process that sends nothing (a
``--help``, the statistics engine) never pays for it.
"""

from __future__ import annotations

import importlib
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


def task_named(name: str):
    """The task whose Celery name (its dotted path, ``module.function``) is ``name``."""
    import evalplatform.celery_app  # noqa: F401  (the app shared tasks bind to)

    module, _, function = name.rpartition(".")
    return getattr(importlib.import_module(module), function)


def enqueue(task, *args: Any, countdown: float = 0, **kwargs: Any) -> None:
    """Run ``task(*args, **kwargs)`` on a worker, or in-process in the embedded mode.

    ``task`` is a task's dotted name (what services pass) or the task itself.
    """
    task = task_named(task) if isinstance(task, str) else task_named(task.name)
    mode = runner()
    if mode == "celery":
        # No time limits in the message: the worker that runs the task applies its own settings' limits,
        # which settings.py holds below that worker's broker visibility timeout.  Celery would otherwise
        # copy the sender's limits into the message, where they override the worker's: limits of a web
        # process configured otherwise, and, since a task caches its send options at its first send,
        # limits changed after that never reach a message at all.
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown or None, time_limit=None, soft_time_limit=None)
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
