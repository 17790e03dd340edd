"""An endpoint's key reaches the endpoint and nothing else: no page, export, log line, API answer,
command output or database dump shows it, even when the endpoint echoes it back in an error."""

from __future__ import annotations

import io
import logging
import re
from collections import deque
from urllib.parse import urljoin, urlparse

import pytest
from django.core.management import call_command
from django.test import Client

from evalplatform.llm import services
from evalplatform.llm.models import Call, ModelEndpoint
from evalplatform.reports import services as reports
from tests.fixtures import UserFactory
from tests.security.routes import export_formats

pytestmark = pytest.mark.django_db
STORED = "sk-STORED-7f3a9c1e5b2d4f60"
FROM_ENV = "sk-ENVIRON-1b2c3d4e5f6a7b8c"
HREF = re.compile(r'(?:href|action)="([^"#]+)"')


def crawl(client: Client, seeds: list[str], limit: int = 400) -> dict[str, str]:
    """GET every same-site page reachable from ``seeds`` (admin included, logout excluded): url -> body."""
    seen: dict[str, str] = {}
    queue = deque(seeds)
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen or "logout" in url or "/static/" in url:
            continue
        answer = client.get(url, HTTP_ACCEPT="text/html,application/json")
        raw = b"".join(answer.streaming_content) if answer.streaming else answer.content
        body = raw.decode("utf-8", "replace")
        seen[url] = body
        assert answer.status_code < 500, url
        if answer.status_code in (301, 302):
            queue.append(answer["Location"])
        if "html" in answer.get("Content-Type", ""):
            for link in HREF.findall(body):
                target = urljoin(url, link.replace("&amp;", "&"))
                parsed = urlparse(target)
                if not parsed.netloc and target not in seen and not re.search(r"[?&](o|p|q|_changelist_filters)=", target):
                    queue.append(target)
    return seen


def test_no_secret_anywhere(make_project, make_endpoint, fake_llm, monkeypatch, caplog, capsys, lead, request):
    monkeypatch.setenv("JUDGE_KEY", FROM_ENV)
    # Every level is put back after the test as it was before it.  (The root's was once saved by
    # caplog after this loop had set it, so every later test in the worker logged at DEBUG.)  A
    # "django" logger left at DEBUG makes every later template log a traceback per missing variable.
    # setLevel, not a bare attribute: it also clears the loggers' cached answers.
    names = ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "celery", "django", "evalplatform", "")
    saved = {name: logging.getLogger(name).level for name in names}
    request.addfinalizer(lambda: [logging.getLogger(name).setLevel(level) for name, level in saved.items()])
    caplog.set_level(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    project = make_project("tickets", items=4, raters=("alice",))
    drafter = make_endpoint("drafter", api_key=STORED)
    critic = make_endpoint("critic", api_key_env="JUDGE_KEY")
    leaky = make_endpoint("leaky", api_key=STORED, model="fake-leaky")
    fake_llm.control.add("echo_key", model="fake-leaky")

    services.start_generation(project=project, endpoints=[drafter, leaky])
    services.start_judge(project=project, endpoints=[critic])
    auth = {r.authorization for r in fake_llm.control.records}
    assert {f"Bearer {STORED}", f"Bearer {FROM_ENV}"} <= auth  # the keys did reach the endpoint
    failed = Call.objects.filter(endpoint=leaky, status=Call.Status.FAILED)
    assert failed.count() == 4
    assert all("[redacted]" in c.error for c in failed)
    reports.compute(report_id=reports.create_report(project=project, bootstrap=20).pk)

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    texts: dict[str, str] = {}
    for user in (admin, lead):
        client = Client()
        client.force_login(user)
        seeds = ["/", f"/projects/{project.slug}/dashboard/", f"/projects/{project.slug}/report/", "/admin/",
                 "/admin/llm/modelendpoint/", f"/admin/llm/modelendpoint/{drafter.pk}/change/",
                 f"/admin/llm/modelendpoint/{critic.pk}/change/", "/admin/llm/run/", "/api/llm/endpoints/",
                 f"/api/projects/{project.pk}/llm-runs/", "/api/schema/",
                 *(f"/api/llm-runs/{run}/" for run in project.llm_runs.values_list("id", flat=True)),
                 *(f"/projects/{project.slug}/report/export/{fmt}/" for fmt in export_formats())]
        pages = crawl(client, seeds)
        texts.update({f"{user.username} {url}": body for url, body in pages.items()})
    assert len(texts) > 60
    assert any("/admin/llm/modelendpoint/" in url for url in texts)
    assert any("/export/" in url and "judge:critic" in body for url, body in texts.items())

    out = io.StringIO()
    call_command("generate", "--status", str(project.llm_runs.filter(kind="generation").first().pk),
                 "--format", "json", stdout=out, stderr=out)
    call_command("dumpdata", "llm", "accounts", "projects", "ratings", stdout=out)
    texts["commands"] = out.getvalue()
    texts["logs"] = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    captured = capsys.readouterr()
    texts["stdout"], texts["stderr"] = captured.out, captured.err
    texts["database"] = repr(list(ModelEndpoint.objects.values_list("api_key_encrypted", flat=True))) + repr(
        list(Call.objects.values("error", "output", "parameters")))
    assert "HTTP Request: POST" in texts["logs"]  # the client's own log lines were captured
    for secret in (STORED, FROM_ENV, STORED[3:15], FROM_ENV[3:15]):
        leaks = [where for where, text in texts.items() if secret in text]
        assert not leaks, f"{secret} appears in {leaks[:5]}"
