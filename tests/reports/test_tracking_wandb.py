"""A finished report logged to Weights & Biases in offline mode (no network) and read back from its .wandb
file with wandb's own reader (``wandb leet inspect --json``, the wandb-core binary the package ships):
parameters, metrics and artefacts equal the report and the platform's own exports."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evalplatform.ratings.exports import export_lines
from evalplatform.reports import tracking
from evalplatform.reports.models import AgreementReport, TrackingRun
from evalplatform.reports.services import compute, create_report

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def wandb_core() -> str:
    """The wandb-core binary.  Importing wandb and starting its service are slow: once per module."""
    import wandb
    from wandb.util import get_core_path

    wandb.setup().ensure_service()
    return get_core_path()


@pytest.fixture
def offline(tmp_path, monkeypatch) -> Path:
    for name in ("WANDB_PROJECT", "WANDB_ENTITY", "WANDB_API_KEY", "EVAL_TRACKING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "staging"))
    return tmp_path


def read_run(core: str, directory: Path, run_id: str) -> dict[str, list[dict]]:
    """The records of the offline run ``run_id`` under ``directory``, by type, in the order written."""
    (path,) = directory.glob(f"wandb/offline-run-*-{run_id}/run-{run_id}.wandb")
    out = subprocess.run(
        [core, "leet", "inspect", "--no-observability", "--json", "--run-file", str(path), str(path.parent.parent)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    records: dict[str, list[dict]] = {}
    for line in out.splitlines():
        if line.strip():
            record = json.loads(line)
            records.setdefault(record["type"], []).append(record[record["type"]])
    return records


def exported(project, fmt: str, **kwargs) -> str:
    return "".join(export_lines(project, fmt, **kwargs))


def test_a_report_logged_to_wandb_offline_reads_back_equal(rated_project, offline, wandb_core, capsys):
    project = rated_project("wandbed", items=4)
    tracking.update_tracking_settings(project=project, wandb_project="support-evals", wandb_entity="acme")
    report = compute(report_id=create_report(project=project, bootstrap=20, seed=4).pk)
    call_command("log_report", "--project", project.slug, "--to", "wandb")
    (run,) = TrackingRun.objects.filter(report=report, backend="wandb")
    assert f"logged to wandb: run {run.run_id}" in capsys.readouterr().out
    records = read_run(wandb_core, offline, run.run_id)

    (header,) = records["run"]
    assert header["project"] == "support-evals"  # the project's own settings
    assert header["entity"] == "acme"
    assert header["display_name"] == f"wandbed-report-{report.pk}"
    config = {k: v for k, v in header["config"]["update"].items() if k != "_wandb"}
    assert config == tracking.report_params(report)
    assert config["ratings_sha256"] == report.result["manifest"]["ratings_sha256"]
    assert config["seed"] == "4"

    (history,) = records["history"]
    logged = {k: v for k, v in history["item"].items() if not k.startswith("_")}
    expected = tracking.report_metrics(report.result)
    assert logged.keys() == expected.keys()
    assert logged == pytest.approx(expected, rel=1e-12)
    dims = {d["dimension"]: d for d in report.result["dimensions"]}
    assert logged["dimension/accuracy/alpha"] == pytest.approx(dims["accuracy"]["krippendorff_alpha"]["value"])
    assert records["exit"][0].get("exit_code", 0) == 0

    (artefact,) = records["artifact"]
    assert artefact["type"] == "evaluation-report"
    files = {entry["path"]: entry for entry in artefact["manifest"]["contents"]}
    assert set(files) == {"report.json", "ratings.csv", "consensus.csv"}
    own = {
        "ratings.csv": exported(project, "csv", options=tracking.artefact_options(report)),
        "consensus.csv": exported(project, "consensus-csv"),
    }
    for name, entry in files.items():
        content = Path(entry["local_path"]).read_bytes()
        assert entry["digest"] == base64.b64encode(hashlib.md5(content).digest()).decode()  # noqa: S324 (W&B's digest)
        if name == "report.json":
            assert json.loads(content) == report.result
        else:
            assert content.decode() == own[name]
            assert own[name].count("\n") > 1

    call_command("log_report", "--project", project.slug, "--to", "wandb")  # already logged: the same run
    assert TrackingRun.objects.get(report=report, backend="wandb").run_id == run.run_id
    assert len(list(offline.glob("wandb/offline-run-*"))) == 1


def test_eval_tracking_names_both_and_a_wandb_failure_leaves_the_report_done_and_is_retried(
        rated_project, offline, wandb_core, monkeypatch, tmp_path, django_capture_on_commit_callbacks):
    from evalplatform.reports import tasks

    project = rated_project("both", items=4)
    monkeypatch.setenv("EVAL_TRACKING", "mlflow, wandb")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    calls = []

    def broken(report):
        calls.append(report.pk)
        raise ConnectionError("wandb-core did not start")

    monkeypatch.setattr(tracking, "_wandb_run", broken)
    with django_capture_on_commit_callbacks(execute=True):
        report = compute(report_id=create_report(project=project, bootstrap=30).pk)
    report.refresh_from_db()
    assert calls == [report.pk]
    assert report.status == AgreementReport.Status.DONE
    assert set(TrackingRun.objects.filter(report=report).values_list("backend", flat=True)) == {"mlflow"}

    monkeypatch.undo()
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(offline))
    run_id = tasks.log_report_run.apply(args=(report.pk, "wandb")).get()  # the retry succeeds
    assert TrackingRun.objects.get(report=report, backend="wandb").run_id == run_id
    assert read_run(wandb_core, offline, run_id)["run"][0]["config"]["update"]["report_id"] == str(report.pk)


def test_the_command_takes_a_comma_list_and_refuses_an_unknown_tracker(rated_project):
    project = rated_project("listed", items=3)
    compute(report_id=create_report(project=project, bootstrap=20).pk)
    with pytest.raises(CommandError, match="unknown tracking backend 'neptune'"):
        call_command("log_report", "--project", project.slug, "--to", "mlflow,neptune")
    assert tracking.parse_backends("wandb, mlflow,wandb") == ["wandb", "mlflow"]
    assert not TrackingRun.objects.exists()
