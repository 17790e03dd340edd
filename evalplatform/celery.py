"""The Celery application.

Without ``REDIS_URL`` the settings make every task run eagerly, in the process that enqueues it, so
the embedded mode needs no broker.  With it, tasks go to Redis and ``celery -A evalplatform worker``
runs them on any machine that reaches the database and Redis.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")

app = Celery("evalplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
