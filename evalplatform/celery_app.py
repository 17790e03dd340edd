"""The Celery application (cookiecutter-django's ``config/celery_app.py``).

Workers and beat name it: ``celery -A evalplatform.celery_app worker`` (``make worker``, ``make beat``).
Web processes and management commands load it only when they first send a task
(``evalplatform.dispatch``), so the ``shared_task`` functions bind to this app and its settings, while
a command or a page that sends nothing, and the statistics engine, never import Celery's app.

Without ``REDIS_URL`` the settings make every task run in-process, so the embedded mode needs no
broker.  With it, tasks go to Redis and any machine that reaches the database and Redis can run them.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")

app = Celery("evalplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
