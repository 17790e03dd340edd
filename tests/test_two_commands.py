"""The layout and `make run` from a clean clone: it sets itself up, serves the demo, and a second run
finds the same single demo.  (`make test` from a clean clone is what CI itself runs.)"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ("manage.py", "pyproject.toml", "README.md", "Makefile", "evalplatform", "rubrics", "templates", "static",
          "tests", "bench", ".ci/run")


def test_layout_is_as_documented():
    for name in LAYOUT:
        assert (ROOT / name).exists(), name
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick_start
    assert "make test" in quick_start
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(clone: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "EVAL_VAR_DIR", "EVAL_TASK_RUNNER",
                        "VIRTUAL_ENV", "SQLITE_PATH"}}
    env.update(PORT=str(port), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_for_login_page(port: int, proc: subprocess.Popen, log: Path, timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2) as response:
                return response.read().decode()
        except OSError:
            time.sleep(1)
    raise AssertionError(f"nothing served on port {port}:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_make_run_from_a_clean_clone_serves_the_demo_twice_without_duplicating_it(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    for attempt in (1, 2):
        port, log = _free_port(), tmp_path / f"run{attempt}.log"
        proc = _serve(clone, port, log)
        try:
            page = _wait_for_login_page(port, proc, log)
        finally:
            _stop(proc)
        assert "Log in" in page
        output = log.read_text()
        assert f"http://127.0.0.1:{port}/" in output
        for account in ("admin", "lead", "alice", "bob", "carol"):
            assert f" {account} " in output, account
    assert (clone / ".venv" / "bin" / "python").exists()
    with sqlite3.connect(clone / "var" / "db.sqlite3") as db:
        projects = [row[0] for row in db.execute("SELECT slug FROM projects_project ORDER BY slug")]
        users = db.execute("SELECT COUNT(*) FROM accounts_user WHERE username = 'alice'").fetchone()[0]
    assert projects.count("support-demo") == 1
    assert users == 1
