"""``manage.py generate``, ``manage.py judge`` and ``manage.py fake_llm``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from django.core.management import CommandError, call_command

from evalplatform.llm.models import ModelEndpoint, Run
from evalplatform.projects.models import Response

pytestmark = pytest.mark.usefixtures("no_report_refresh")
ROOT = Path(__file__).resolve().parents[2]


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_generate_then_judge_from_the_command_line(project_with_items, make_endpoint, tmp_path):
    project = project_with_items(3)
    make_endpoint("drafter")
    make_endpoint("critic")
    template = tmp_path / "t.txt"
    template.write_text("Customer wrote: {prompt}")
    out, err = run_command("generate", "--project", project.slug, "--endpoint", "drafter", "--template-file", str(template))
    assert "done; 3 done, 0 invalid, 0 failed" in out
    assert "3/3 calls" in err
    assert Response.objects.filter(item__project=project, model="drafter").count() == 3
    out, _ = run_command("judge", "--project", project.slug, "--endpoint", "critic", "--format", "json")
    summary = json.loads(out)
    assert summary["kind"] == "judge"
    assert summary["progress"]["done"] == 6  # 3 human + 3 drafted responses
    out, _ = run_command("judge", "--status", str(summary["id"]))
    assert f"judge run {summary['id']}" in out
    assert "prompt judge-rv" in out


@pytest.mark.django_db
def test_cancel_and_resume_from_the_command_line(project_with_items, make_endpoint, monkeypatch):
    from evalplatform.llm import services

    project = project_with_items(2)
    make_endpoint("drafter")
    enqueue_workers = services._enqueue_workers
    monkeypatch.setattr(services, "_enqueue_workers", lambda run_id: None)
    run = services.start_generation(project=project, endpoints=[ModelEndpoint.objects.get()])
    out, _ = run_command("generate", "--cancel", str(run.pk))
    assert "cancelled; 0 done" in out
    assert "2 cancelled" in out
    monkeypatch.setattr(services, "_enqueue_workers", enqueue_workers)
    out, _ = run_command("generate", "--resume", str(run.pk))
    assert "done; 2 done" in out
    with pytest.raises(CommandError, match="no judge run"):
        run_command("judge", "--status", str(run.pk))


@pytest.mark.django_db
@pytest.mark.parametrize("args, message", [
    (["--project", "nope", "--endpoint", "x"], "no project with slug 'nope'"),
    (["--project", "tickets"], "give at least one --endpoint"),
    (["--project", "tickets", "--endpoint", "ghost"], "no model endpoint(s) ghost"),
    (["--project", "tickets", "--endpoint", "drafter", "--template", "{nope}"], "unknown field(s) nope"),
    (["--endpoint", "drafter"], "--project is required"),
    (["--project", "tickets", "--endpoint", "drafter", "--no-wait"], "--no-wait needs workers"),
])
def test_bad_arguments_are_refused_with_the_reason(project_with_items, make_endpoint, args, message):
    project_with_items(1)
    make_endpoint("drafter")
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_command("generate", *args)
    assert Run.objects.filter(status=Run.Status.RUNNING).count() == 0


def test_fake_llm_command_serves_the_openai_protocol(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    proc = subprocess.Popen([sys.executable, "manage.py", "fake_llm", "--port", "0", "--fail-every", "2"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "fake OpenAI-compatible endpoint at http://127.0.0.1:" in line
        base_url = line.split(" at ", 1)[1].split()[0]
        client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=5)
        first = client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])
        assert "hi" in first.choices[0].message.content
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
