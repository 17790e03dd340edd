"""The documented production path, run for real: ``DEBUG=0``, ``collectstatic``, gunicorn, PostgreSQL.

A database of its own beside the test database is migrated and given the demo, ``collectstatic``
writes the hashed files and their manifest into a temporary ``STATIC_ROOT`` (the step that stopped on
the vendored Chart.js' missing source map), and gunicorn serves the WSGI application on a free port.
Then the admin, the lead and a rater crawl every page reachable by links from the home page, plus
the pages no link leads to; every HTML page answers 200 and every static file it references
answers 200 from whitenoise.  A missing manifest entry makes every page 500, so this fails on it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import psycopg
import pytest
import requests
from django.db import connection
from django.urls import Resolver404, resolve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
STATIC_REF = re.compile(r"""(?:src|href)=["'](/static/[^"'?#]+)""")
LINK = re.compile(r"""<a\s[^>]*href=["']([^"'#]+)""")
# Page kinds the crawl must have reached (by URL name), for each viewer.
MUST_REACH = {
    "admin": {"home", "admin:index", "api-docs", "project-dashboard", "report", "report-item", "quality-overview",
              "quality-gold", "quality-adjudication", "project-new"},
    "lead": {"home", "project-dashboard", "report", "report-item", "quality-overview", "quality-gold"},
    "alice": {"home", "rate"},
}
# Not crawled: downloads (files, not pages) and anything that is not a page of this site.
SKIP_PREFIXES = ("/static/", "/api/schema/")
PER_KIND = 3  # pages visited per URL name: enough to meet each kind, few enough to stay quick


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def production_database():
    """A PostgreSQL database of this test's own (gunicorn's processes commit to it), dropped after."""
    db = connection.settings_dict
    name = f"{db['NAME']}_prodpath"[:63]
    params = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"] or "postgres",
              "password": db.get("PASSWORD") or None, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    yield f"postgres://{params['user']}{password}@{params['host']}:{params['port']}/{name}"
    with psycopg.connect(**params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def production_server(production_database, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL", "EVAL_TASK_RUNNER"}}
    port = free_port()
    env.update({
        "DJANGO_SETTINGS_MODULE": "evalplatform.settings", "DEBUG": "0", "SECRET_KEY": "prod-path-" * 6,
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "DATABASE_URL": production_database,
        "STATIC_ROOT": str(tmp_path / "static"), "EVAL_VAR_DIR": str(tmp_path / "var"),
        # Plain HTTP on loopback (TLS ends at the proxy in production): no redirect, cookies sent over HTTP.
        "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0",
    })

    def manage(*args: str) -> None:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}"

    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput")
    assert (tmp_path / "static" / "staticfiles.json").exists(), "collectstatic wrote no manifest"
    manage("load_demo", "--force")
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "evalplatform.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--timeout", "120"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/health/", timeout=30).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # still booting its workers
                pass
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "gunicorn did not answer /health/ within 120 s"
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def log_in(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=30)
    assert page.status_code == 200, page.text[:500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = session.post(f"{base}/accounts/login/", data={"username": username, "password": password,
                                                          "csrfmiddlewaretoken": token},
                        headers={"Referer": f"{base}/accounts/login/"}, allow_redirects=False, timeout=30)
    assert done.status_code == 302, f"{username} could not log in: {done.status_code} {done.text[:300]}"
    return session


def url_name(path: str) -> str | None:
    try:
        return resolve(path).view_name
    except Resolver404:
        return None


def crawl(base: str, session: requests.Session, start: list[str], checked_static: dict[str, int]) -> dict[str, int]:
    """Visit pages by following same-site links; returns the number of HTML pages per URL name."""
    seen: set[str] = set()
    per_kind: dict[str, int] = {}
    queue = deque(start)
    while queue:
        path = queue.popleft()
        if path in seen or path.startswith(SKIP_PREFIXES):
            continue
        seen.add(path)
        name = url_name(urlsplit(path).path) or path
        if per_kind.get(name, 0) >= PER_KIND:
            continue
        response = session.get(base + path, timeout=60, allow_redirects=False, headers={"Accept": "text/html"})
        if response.status_code in (301, 302):
            queue.append(urlsplit(urljoin(base + path, response.headers["Location"])).path)
            continue
        assert response.status_code == 200, f"GET {path} ({name}) -> {response.status_code}: {response.text[:500]}"
        if not response.headers.get("Content-Type", "").startswith("text/html"):
            continue
        per_kind[name] = per_kind.get(name, 0) + 1
        for ref in set(STATIC_REF.findall(response.text)):
            if ref not in checked_static:
                checked_static[ref] = session.get(base + ref, timeout=30).status_code
            assert checked_static[ref] == 200, f"{path} references {ref}, which answers {checked_static[ref]}"
        for href in LINK.findall(response.text):
            target = urlsplit(urljoin(base + path, href.replace("&amp;", "&")))
            if target.netloc == urlsplit(base).netloc and "/export/" not in target.path and "/logout" not in target.path \
                    and "format=" not in target.query:
                queue.append(target.path + (f"?{target.query}" if target.query else ""))
    return per_kind


def test_production_path_serves_every_page_and_its_static_files(production_server):
    base = production_server
    checked_static: dict[str, int] = {}
    anonymous = requests.Session()
    for path in ("/accounts/login/", "/api/docs/"):
        response = anonymous.get(base + path, timeout=30)
        assert response.status_code == 200, f"GET {path} -> {response.status_code}"
        for ref in STATIC_REF.findall(response.text):
            checked_static[ref] = anonymous.get(base + ref, timeout=30).status_code
            assert checked_static[ref] == 200, f"{path} references {ref}: {checked_static[ref]}"
    assert anonymous.get(base + "/no-such-page/", timeout=30).status_code == 404
    # Static files come from the manifest: hashed names, cached for ever by whitenoise.
    hashed = [ref for ref in checked_static if re.search(r"/css/app\.[0-9a-f]{12}\.css$", ref)]
    assert hashed, f"the login page does not link the hashed stylesheet: {sorted(checked_static)}"
    assert "max-age=315360000" in anonymous.get(base + hashed[0], timeout=30).headers.get("Cache-Control", "")

    passwords = {"admin": "admin-demo-pass", "lead": "lead-demo-pass", "alice": "alice-demo-pass"}
    for username, must in MUST_REACH.items():
        session = log_in(base, username, passwords[username])
        start = ["/", "/api/docs/"] + (["/admin/", "/projects/new/", "/api/projects/"] if username == "admin" else [])
        reached = crawl(base, session, start, checked_static)
        assert must <= set(reached), f"{username} never reached: {sorted(must - set(reached))}"
    assert any("vendor/chart-4.6.1.umd.min" in ref for ref in checked_static), "no page loaded Chart.js"
    assert any("rest_framework" in ref for ref in checked_static), "the browsable API's files were not checked"
