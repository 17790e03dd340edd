"""Settings come from the environment and refuse unsafe production starts; /health/ reports parts."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG",
                                                              "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args], cwd=ROOT, env={**base, **env},
        capture_output=True, text=True, timeout=120,
    )


def test_production_refuses_to_start_without_secret_key(tmp_path):
    result = run_check({"DEBUG": "0", "ALLOWED_HOSTS": "x.example", "EVAL_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DEBUG=0 needs SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    result = run_check({"DEBUG": "0", "SECRET_KEY": "k" * 60, "EVAL_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DEBUG=0 needs ALLOWED_HOSTS" in result.stderr


def test_deploy_check_passes_with_production_settings(tmp_path):
    result = run_check(
        {"DEBUG": "0", "SECRET_KEY": "s3cr3t-" * 10, "ALLOWED_HOSTS": "eval.example.com", "EVAL_VAR_DIR": str(tmp_path)},
        "--deploy", "--fail-level", "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_task_time_limits_are_below_the_brokers_visibility_timeout(settings):
    """A report is stopped (and failed) before Redis would redeliver its message to a second worker."""
    assert 0 < settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_TIME_LIMIT < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_a_time_limit_above_the_visibility_timeout_is_refused(tmp_path):
    result = run_check({"EVAL_VAR_DIR": str(tmp_path), "EVAL_TASK_TIME_LIMIT": "7200"})
    assert result.returncode != 0
    assert "< the broker's visibility timeout (3600 s)" in result.stderr


def test_a_log_line_carries_its_time_level_and_logger(tmp_path):
    code = "import logging; logging.getLogger('evalplatform.reports.services').warning('report 7 failed')"
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "EVAL_VAR_DIR": str(tmp_path)})
    lines = [line for line in result.stderr.splitlines() if "report 7 failed" in line]
    assert len(lines) == 1, result.stderr  # once, not doubled
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING evalplatform\.reports\.services: report 7 failed",
                        lines[0])


def test_djangos_own_log_lines_are_printed_once(tmp_path):
    code = "import logging; logging.getLogger('django.request').error('no such page')"
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "EVAL_VAR_DIR": str(tmp_path), "DEBUG": "1"})
    lines = [line for line in result.stderr.splitlines() if "no such page" in line]
    assert len(lines) == 1, result.stderr
    assert " ERROR django.request: no such page" in lines[0]


def test_development_key_is_generated_once_and_kept(tmp_path):
    for _ in range(2):
        assert run_check({"EVAL_VAR_DIR": str(tmp_path)}).returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"


def test_database_url_selects_the_backend():
    import dj_database_url

    parsed = dj_database_url.parse("postgres://u:p@db.example:5432/evalplatform")
    assert parsed["ENGINE"] == "django.db.backends.postgresql"
    assert parsed["NAME"] == "evalplatform"


def test_bad_boolean_is_a_clear_error(tmp_path):
    result = run_check({"DEBUG": "maybe", "EVAL_VAR_DIR": str(tmp_path)})
    assert "DEBUG='maybe' is not a boolean" in result.stderr


@pytest.mark.django_db
def test_health_reports_database_and_embedded_mode(client):
    body = client.get("/health/").json()
    assert body["ok"] is True
    assert body["checks"]["database"]["ok"] is True
    assert "embedded" in body["checks"]["workers"]["mode"]


@pytest.mark.django_db
def test_health_reports_an_unreachable_broker(client, settings, admin_user):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health/")
    body = response.json()
    assert response.status_code == 200  # the database is fine: raters can still work
    assert body["ok"] is False
    assert body["checks"]["redis"] == {"ok": False}  # no details for the public
    assert body["checks"]["workers"] == {"ok": False}
    client.force_login(admin_user)
    detail = client.get("/health/").json()
    assert "Connection" in detail["checks"]["redis"]["error"] or "Error" in detail["checks"]["redis"]["error"]
    assert detail["checks"]["workers"] == {"ok": False, "error": "broker unreachable"}


def _database_options(env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    code = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS', {}))"
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env={**base, **env},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_postgresql_uses_prepared_statements_unless_told_not_to(tmp_path):
    url = {"DATABASE_URL": "postgres://u:p@db.example:5432/evalplatform", "EVAL_VAR_DIR": str(tmp_path)}
    assert "'server_side_binding': True" in _database_options(url)
    assert "server_side_binding" not in _database_options({**url, "DATABASE_PREPARED_STATEMENTS": "0"})


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_query_run_repeatedly_on_postgresql_is_prepared_on_the_server():
    from django.db import connection

    from evalplatform.projects.models import Project

    for _ in range(8):
        list(Project.objects.filter(slug="no-such-project"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%projects_project%"])
        assert cursor.fetchone()[0] >= 1

