"""The Celery application (cookiecutter-django's ``config/celery_app.py``).

Workers and beat name it: ``celery -A evalplatform.celery_app worker`` (``make worker``, ``make beat``).
Web processes and management commands load it only when they first send a task
(``evalplatform.dispatch``), so the ``shared_task`` functions bind to this app and its settings, while
a command or a page that sends nothing, and the statistics engine, never import Celery's app.

A worker loads the report's statistics as it starts (``preload``), so no report waits on them.

Without ``REDIS_URL`` the settings make every task run in-process, so the embedded mode needs no
broker.  With it, tasks go to Redis and any machine that reaches the database and Redis can run them.
"""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")

app = Celery("evalplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def preload(**kwargs) -> None:
    """A worker runs ``EVAL_WORKER_PRELOAD`` as it starts, in its main process before the pool forks:
    the report's statistics (numpy, scipy.stats, the sections' modules) are then in every pool process,
    in memory pages they share, and no report pays for the imports.  Named by path, as the tasks are
    found by name: the apps' layers stay one-way.  Processes that only send tasks never get this signal."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    for path in settings.EVAL_WORKER_PRELOAD:
        import_string(path)()
