"""Test settings: the real settings, with tasks run synchronously and fast password hashing."""

import os
import tempfile

os.environ.setdefault("EVAL_TASK_RUNNER", "sync")
os.environ.setdefault("EVAL_VAR_DIR", os.path.join(tempfile.gettempdir(), "evalplatform-test-var"))

from evalplatform.settings import *  # noqa: F403
from evalplatform.settings import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so tests with several threads or processes share one real database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1000/min", "submit": "10000/min"}}  # noqa: F405
# The login brake counts in the same local memory as the default cache, so tests clearing it clear both.
CACHES = {**CACHES, "login": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}  # noqa: F405
