"""A report section that sleeps: imported by test workers started with ``EVAL_TEST_SLOW_SECTION=<s>``.

It goes last, after every real section, so a worker killed while it sleeps has done most of the
work, and shows that nothing of it reaches the stored report until the report is complete.
"""

import os
import time

from evalplatform.reports.compute import Section, register_section

SECONDS = float(os.environ.get("EVAL_TEST_SLOW_SECTION", "0"))


def slow_section(project, parameters, data) -> dict:
    time.sleep(SECONDS)
    return {"slept": SECONDS, "pid": os.getpid()}


register_section(Section("slow", slow_section))
