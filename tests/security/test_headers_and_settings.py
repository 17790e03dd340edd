"""Production settings keep cookies and transport safe, and every HTML page carries a strict CSP.

The settings are read in a subprocess started with ``DEBUG=0`` (they are decided at import).  The
Content-Security-Policy is checked on every page kind: the application's pages for each role, the
admin, the API's documentation and browsable pages, the login and error pages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.routes import instances, routes

ROOT = Path(__file__).resolve().parents[2]
READ_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
names = ["DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SECURE_SSL_REDIRECT",
         "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF",
         "SECURE_PROXY_SSL_HEADER", "CONTENT_SECURITY_POLICY", "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE",
         "AUTH_PASSWORD_VALIDATORS", "SECURE_REFERRER_POLICY", "SECURE_HSTS_PRELOAD"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


def production_settings(tmp_path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DEBUG": "0", "SECRET_KEY": "s3cr3t-" * 10, "ALLOWED_HOSTS": "eval.example.com",
                "EVAL_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "evalplatform.settings", **extra})
    result = subprocess.run([sys.executable, "-c", READ_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def strict_script_src(policy: str) -> bool:
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    script = directives.get("script-src", directives.get("default-src", []))
    return bool(script) and not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & set(script)


def test_production_settings_are_safe(tmp_path):
    s = production_settings(tmp_path)
    assert s["DEBUG"] is False
    assert s["SESSION_COOKIE_SECURE"] is True
    assert s["CSRF_COOKIE_SECURE"] is True
    assert s["SESSION_COOKIE_HTTPONLY"] is True
    assert s["SECURE_SSL_REDIRECT"] is True
    assert s["SECURE_HSTS_SECONDS"] >= 31536000
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert s["SECURE_HSTS_PRELOAD"] is False  # preload is hard to undo: an operator opts in
    assert s["X_FRAME_OPTIONS"] == "DENY"
    assert s["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert s["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert s["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert s["SECURE_REFERRER_POLICY"] == "same-origin"
    directives = s["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    validators = {v["NAME"].rsplit(".", 1)[1] for v in s["AUTH_PASSWORD_VALIDATORS"]}
    assert {"MinimumLengthValidator", "CommonPasswordValidator", "NumericPasswordValidator",
            "UserAttributeSimilarityValidator"} <= validators


def test_hsts_preload_is_an_opt_in(tmp_path):
    assert production_settings(tmp_path, SECURE_HSTS_PRELOAD="1")["SECURE_HSTS_PRELOAD"] is True


def test_production_cookies_are_secure_on_the_wire(tmp_path):
    """The cookies a login sets carry Secure and HttpOnly (session) under the production settings."""
    script = """
import django, re
django.setup()
from django.test import Client
from django.test.utils import override_settings, setup_databases, setup_test_environment
# Production serves hashed static files from collectstatic's manifest; plain names do here.
override_settings(STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}).enable()
setup_test_environment()
setup_databases(verbosity=0, interactive=False)
from django.contrib.auth import get_user_model
get_user_model().objects.create_user("u", password="a-long-passphrase-77")
c = Client(enforce_csrf_checks=True)
page = c.get("/accounts/login/", secure=True, HTTP_HOST="eval.example.com")
token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
r = c.post("/accounts/login/", {"username": "u", "password": "a-long-passphrase-77", "csrfmiddlewaretoken": token},
           secure=True, HTTP_HOST="eval.example.com", HTTP_REFERER="https://eval.example.com/accounts/login/")
print(r.status_code, "|", r.cookies["sessionid"].output(), "|", page.cookies["csrftoken"].output(), "|",
      c.get("/accounts/login/", HTTP_HOST="eval.example.com").status_code, "|",
      page.headers.get("Strict-Transport-Security"))
"""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DEBUG": "0", "SECRET_KEY": "s3cr3t-" * 10, "ALLOWED_HOSTS": "eval.example.com",
                "EVAL_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "evalplatform.settings",
                "SQLITE_PATH": str(tmp_path / "db.sqlite3")})
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    status, session, csrf, plain_http, hsts = (part.strip() for part in result.stdout.strip().splitlines()[-1].split("|"))
    assert status == "302"
    assert "Secure" in session
    assert "HttpOnly" in session
    assert "SameSite=Lax" in session
    assert "Secure" in csrf
    assert plain_http == "301"  # plain HTTP is sent to HTTPS
    assert hsts.startswith("max-age=31536000")
    assert "preload" not in hsts


def assert_strict_csp(response, where: str) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    assert policy, f"{where}: no Content-Security-Policy"
    assert strict_script_src(policy), f"{where}: script-src allows inline or foreign script: {policy}"
    assert "object-src 'none'" in policy, where
    assert "frame-ancestors 'none'" in policy, where
    assert response.headers.get("X-Frame-Options") == "DENY", where


@pytest.mark.django_db
@pytest.mark.database_independent  # response headers: the same whatever the database
def test_every_html_page_has_a_strict_csp(world):
    """Every URL of the project, as the people who may open it: each HTML answer carries the policy."""
    from tests.fixtures import UserFactory

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    viewers = {"admin": admin, "lead": world.alpha.lead, "rater": world.alpha.raters["alice"], "anonymous": None}
    html_pages = 0
    for name, user in viewers.items():
        c = Client(raise_request_exception=False)
        if user is not None:
            c.force_login(user)
        for route in routes():
            url, _ = next(instances(world, route))
            for accept in ("text/html", "*/*"):
                response = c.get(url, HTTP_ACCEPT=accept)
                if response.headers.get("Content-Type", "").startswith("text/html"):
                    html_pages += 1
                    assert_strict_csp(response, f"{name} GET {url} -> {response.status_code}")
    assert html_pages > 300
    for url in ("/api/docs/", reverse("admin:index"), reverse("login"), "/no-such-page/"):
        c = Client()
        c.force_login(admin)
        assert_strict_csp(c.get(url), url)
