"""The apps' layers are enforced: ``lint-imports`` (run by ``make lint``) keeps the contracts in
pyproject.toml, and fails on an upward import.  Shown on a temporary copy of the code with one bad
import added, so the check itself is known to bite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    command = Path(sys.executable).with_name("lint-imports")
    if not command.exists():
        pytest.fail("lint-imports is missing: make install-dev installs import-linter")
    # The copy comes first on the path, ahead of the installed (editable) package.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(command), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("evalplatform", "rubrics"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_line(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_code_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_unchanged_copy_keeps_them_too(copy):
    """The copy is what the checks below change: on its own it passes, so their failures are the bad line's."""
    result = lint_imports(copy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_breaks_the_layers(copy):
    add_line(copy / "evalplatform/ratings/models.py", "from evalplatform.reports.services import ratings_changed  # noqa")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "evalplatform.ratings is not allowed to import evalplatform.reports" in result.stdout


def test_an_upward_import_through_a_shared_module_is_found_too(copy):
    """rubrics (the lowest app but accounts) reaching projects through a helper outside every layer."""
    add_line(copy / "evalplatform/api_errors.py", "from evalplatform.projects.models import Project  # noqa")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "is not allowed to import evalplatform.projects" in result.stdout


def test_django_in_the_statistics_engine_breaks_its_contract(copy):
    add_line(copy / "evalplatform/stats/matrix.py", "import django  # noqa")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "evalplatform.stats.matrix -> django" in result.stdout


def test_a_service_importing_its_tasks_breaks_the_one_way_rule(copy):
    add_line(copy / "evalplatform/reports/services.py", "from evalplatform.reports import tasks  # noqa")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "evalplatform.reports.services -> evalplatform.reports.tasks" in result.stdout
