"""Settings of the Celery workers that integration tests start: the test settings, plus knobs the test
sets in the worker's environment.

- ``EVAL_TEST_KEYPREFIX``: a Redis key prefix of the test's own (kombu's ``global_keyprefix``), so the
  queue *and* the unacknowledged-message bookkeeping of one test never mix with another's.
- ``EVAL_TEST_VISIBILITY_TIMEOUT``: seconds before Redis hands an unacknowledged message to another
  worker (production: 3600).  The crash test sets a few seconds so redelivery is quick and certain.
- ``EVAL_TEST_SLOW_SECTION``: seconds; adds a report section that sleeps that long
  (``tests.integration.slow_section``), so a test can kill the worker in the middle of a report.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import CELERY_BROKER_TRANSPORT_OPTIONS

CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "visibility_timeout": int(os.environ.get("EVAL_TEST_VISIBILITY_TIMEOUT", "3600")),
    "global_keyprefix": os.environ.get("EVAL_TEST_KEYPREFIX", ""),
    # Look for messages to restore every second (default: every 100 s), so redelivery after the
    # visibility timeout does not wait on kombu's schedule.
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
# The cache (Redis here: model endpoints' rate and concurrency limits live in it) under the test's prefix too.
CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": os.environ.get("EVAL_TEST_KEYPREFIX", "")}}  # noqa: F405
if os.environ.get("EVAL_TEST_SLOW_SECTION"):
    CELERY_IMPORTS = ["tests.integration.slow_section"]
