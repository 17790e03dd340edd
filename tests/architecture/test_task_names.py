"""Services name the tasks they enqueue (so ``services.py`` never imports its own ``tasks.py``): each
name must be a real task's, or the enqueue would fail only in production."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from evalplatform import dispatch
from evalplatform.llm import services as llm_services
from evalplatform.quality import services as quality_services
from evalplatform.reports import services as report_services
from evalplatform.suites import webhooks


@pytest.mark.parametrize("name", [
    report_services.COMPUTE_TASK, report_services.REFRESH_TASK, quality_services.COMPUTE_TASK,
    llm_services.PROCESS_TASK, webhooks.SEND_TASK,
])
def test_each_task_a_service_names_exists_under_that_name(name):
    task = dispatch.task_named(name)
    assert task.name == name


def test_a_misspelt_task_name_fails_loudly():
    with pytest.raises(AttributeError):
        dispatch.task_named("evalplatform.reports.tasks.compute_reprot")


@pytest.mark.parametrize("module", ["evalplatform.reports.tasks", "evalplatform.quality.tasks",
                                    "evalplatform.assignments.tasks"])
def test_importing_a_tasks_module_binds_its_tasks_to_our_app(module):
    """Not Celery's default app (whose broker is amqp://localhost and which does not propagate errors
    of in-process runs): checked in a fresh interpreter, where nothing else has loaded the app."""
    code = (f"import django; django.setup(); import {module} as m; "
            "task = next(v for v in vars(m).values() if hasattr(v, 'apply_async')); print(task.app.main)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "evalplatform"
