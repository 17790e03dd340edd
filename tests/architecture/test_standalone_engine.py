"""The statistics engine stands alone, and starting Django does not load what only some commands use.

Checked in a fresh interpreter (a subprocess), because this test process has long since imported
Django, Celery and scipy.stats itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import evalplatform.stats

ENGINE = sorted(
    f"evalplatform.stats.{path.stem}" for path in Path(evalplatform.stats.__file__).parent.glob("*.py")
    if path.stem not in ("__init__", "__main__")  # __main__ runs the command line
)
#: Never loaded by importing the engine: the web framework, the task queue, the slow half of scipy.
HEAVY = ("django", "celery", "kombu", "scipy.stats", "evalplatform.celery_app", "rest_framework")

PROBE = """
import importlib, json, sys
heavy = {heavy!r}
found = {{}}
for name in {modules!r}:
    importlib.import_module(name)
    loaded = sorted(h for h in heavy if h in sys.modules)
    if loaded:
        found[name] = loaded
print(json.dumps(found))
"""


def fresh_interpreter(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**os.environ, **env}, cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_engine_is_importable_in_a_fresh_interpreter_without_django_celery_or_scipy_stats():
    assert "evalplatform.stats.summary" in ENGINE  # the glob found the package's modules
    found = json.loads(fresh_interpreter(PROBE.format(heavy=HEAVY, modules=["evalplatform.stats", *ENGINE])))
    assert found == {}, f"these engine modules load heavy packages: {found}"


#: The modules whose every use computes agreement on sparse value counts: only these may load scipy.sparse
#: (0.35 s) when imported; elsewhere it is imported by the few calls that need it.
NEEDS_SPARSE = {f"evalplatform.stats.{m}" for m in (
    "agreement", "pairwise_kappa", "judges", "judge_summary", "raters", "summary")}


def test_reading_ratings_and_most_of_the_engine_do_not_load_scipy_sparse():
    assert NEEDS_SPARSE <= set(ENGINE)  # the names above still exist
    light = [m for m in ENGINE if m not in NEEDS_SPARSE]
    found = json.loads(fresh_interpreter(PROBE.format(heavy=("scipy.sparse",), modules=["evalplatform.stats", *light])))
    assert found == {}, f"these engine modules load scipy.sparse at import: {found}"


def test_the_probe_does_report_a_heavy_import():
    """The check above can fail: a module that imports scipy.stats is named."""
    found = json.loads(fresh_interpreter(PROBE.format(heavy=HEAVY, modules=["scipy.stats"])))
    assert found == {"scipy.stats": ["scipy.stats"]}


def test_starting_django_loads_neither_the_celery_app_nor_scipy_stats():
    """Every management command pays for ``django.setup()`` (apps' ``ready()`` included): a ``--help``
    must not load scipy.stats (the comparisons and quality sections import the engine) or the Celery app,
    nor numpy and Arrow at all (the export manifest and the first CSV file load them), nor Celery (a
    failed report's message names its time limit by Celery's exception, imported then)."""
    code = (
        "import django, json, sys; django.setup(); print(json.dumps(sorted(h for h in ('scipy', 'scipy.stats', "
        "'numpy', 'pyarrow', 'celery', 'evalplatform.celery_app') if h in sys.modules)))"
    )
    loaded = json.loads(fresh_interpreter(code, DJANGO_SETTINGS_MODULE="evalplatform.settings"))
    assert loaded == []


def test_the_agreement_command_loads_neither_pandas_nor_the_judges_module(tmp_path):
    """Arrow's own array conversions import pandas (a third of a second) to check for it; the engine
    reads the codes from Arrow's buffers.  The judges' module (scipy.sparse) loads only with --judges."""
    path = tmp_path / "ratings.csv"
    rows = [f"i{i},r{r},q,{1 + (i * r) % 5}" for i in range(30) for r in range(4)]
    path.write_text("item_id,rater,dimension,value\n" + "\n".join(rows) + "\n")
    code = (
        "import contextlib, io, json, sys; from evalplatform.stats.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): main([{str(path)!r}, '--bootstrap', '20'])\n"
        "print(json.dumps(sorted(h for h in ('pandas', 'evalplatform.stats.judge_summary', 'django') "
        "if h in sys.modules)))"
    )
    assert json.loads(fresh_interpreter(code).strip().splitlines()[-1]) == []


#: Raises on importing any of the given packages, so a command that needs one to build its parser is named.
COMMAND_PROBE = """
import importlib.abc, json, sys
import django
django.setup()
from django.core.management import get_commands, load_command_class

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {heavy!r}:
            raise ImportError(f"{{name}} imported")

sys.meta_path.insert(0, Refuse())
found = {{}}
for name, app in sorted(get_commands().items()):
    if app.startswith("evalplatform") or app == "rubrics":
        try:
            load_command_class(app, name).create_parser("manage.py", name)
        except ImportError as exc:
            found[name] = str(exc)
print(json.dumps(found))
"""


def test_no_command_loads_numpy_scipy_arrow_or_celery_for_its_help():
    """``manage.py X --help`` is Django's start-up plus the command's module and parser: a command that
    needs numpy only to name its choices (gate did, through the report's data module) starts 0.15 s
    slower than the 0.6 s the scale issue allows."""
    heavy = ("numpy", "scipy", "pyarrow", "celery")
    found = json.loads(fresh_interpreter(COMMAND_PROBE.format(heavy=heavy), DJANGO_SETTINGS_MODULE="evalplatform.settings"))
    assert found == {}, f"these commands load heavy packages for --help: {found}"


def test_the_command_probe_names_a_command_that_loads_numpy():
    """The check above can fail: the same probe, refusing a package every command loads, names them."""
    found = json.loads(fresh_interpreter(
        COMMAND_PROBE.format(heavy=("evalplatform",)), DJANGO_SETTINGS_MODULE="evalplatform.settings"))
    assert "gate" in found and "import_ratings" in found
