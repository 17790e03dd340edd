"""Experiment tracking: a finished report logged as an MLflow run and as a Weights & Biases run.

``log_report(report, to="mlflow" | "wandb")`` creates one run with the report's parameters (project,
rubric version, seed, resamples, what was left out, the ratings hash), its metrics (per dimension:
Krippendorff's alpha, Fleiss' kappa, the mean pairwise Cohen's kappa, each with interval bounds; per
model x dimension the mean with bounds; Bradley–Terry ratings with bounds; each automated judge's
calibration: kappa, alpha with the judge, the kappa gap, the offset and Spearman, with bounds; per model
the reference metrics' means) and three artefacts: ``report.json`` (the stored result), ``ratings.csv``
(the ratings export holding what the report counted) and ``consensus.csv`` (the consensus export, when
the project has consensus labels).  The run id is stored (``TrackingRun``); logging twice is a no-op.

Where runs go: the project's ``TrackingSettings`` (tracking URI and experiment for MLflow, project and
entity for W&B), else the environment (``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``,
``WANDB_PROJECT``, ``WANDB_ENTITY``), else defaults: a local MLflow file store under ``EVAL_VAR_DIR``,
experiment and W&B project ``evalplatform-<slug>``.  W&B runs are offline (``WANDB_MODE``, default
``offline``: a ``.wandb`` file under ``WANDB_DIR`` or ``EVAL_VAR_DIR``, uploaded later with
``wandb sync``), so logging needs no network.  Secrets (a server's token, ``WANDB_API_KEY``) only ever
come from the environment, read by the trackers' own clients; the database never holds them.

``EVAL_TRACKING=mlflow,wandb`` makes every stored report enqueue ``tasks.log_report_run`` per backend
after it is done (the report-done hook; retried on failure, never blocking or failing the report).
The trackers' packages are imported only when a run is logged (``pip install 'evalplatform[tracking]'``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from evalplatform.dispatch import enqueue
from evalplatform.projects.models import Project
from evalplatform.reports.models import AgreementReport, TrackingRun, TrackingSettings

log = logging.getLogger(__name__)

TRACKING_TASK = "evalplatform.reports.tasks.log_report_run"
BACKENDS = ("mlflow", "wandb")
#: The artefacts every run gets, by file name (``write_artefacts``).
ARTEFACTS = ("report.json", "ratings.csv", "consensus.csv")


class TrackingError(Exception):
    pass


def parse_backends(text: str) -> list[str]:
    """``"mlflow,wandb"`` as a list of backends, in order, once each; ``TrackingError`` for an unknown one."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BACKENDS]
    if unknown or not names:
        raise TrackingError(f"unknown tracking backend {', '.join(map(repr, unknown)) or repr(text)} "
                            f"(known: {', '.join(BACKENDS)}; several separated by commas)")
    return list(dict.fromkeys(names))


# --- Where a project's runs go -------------------------------------------------------------------

#: Each per-project setting and the environment variable it falls back to.
SETTING_ENV = {
    "mlflow_tracking_uri": "MLFLOW_TRACKING_URI", "mlflow_experiment": "MLFLOW_EXPERIMENT_NAME",
    "wandb_project": "WANDB_PROJECT", "wandb_entity": "WANDB_ENTITY",
}
SETTING_FIELDS = tuple(SETTING_ENV)
SETTING_LABELS = {"mlflow_tracking_uri": "MLflow tracking URI", "mlflow_experiment": "MLflow experiment",
                  "wandb_project": "W&B project", "wandb_entity": "W&B entity"}
#: Schemes a project may name as its MLflow tracking URI (the environment may name any).
URI_SCHEMES = ("http", "https", "databricks", "databricks-uc", "file")
_W_AND_B_FORBIDDEN = set("/\\#?%:")


class TrackingSettingsError(ValidationError):
    """Tracking settings that are refused (``message_dict``: field -> why)."""


@dataclass(frozen=True)
class Setting:
    """A tracking setting in force and where it comes from: ``project``, ``environment`` or ``default``."""

    value: str
    source: str


def default_mlflow_uri() -> str:
    return (Path(settings.VAR_DIR) / "mlruns").resolve().as_uri()


def effective_settings(project: Project) -> dict[str, Setting]:
    """Each tracking setting in force for ``project``: its own, else the environment's, else the default."""
    stored = TrackingSettings.objects.filter(project=project).first()
    defaults = {
        "mlflow_tracking_uri": default_mlflow_uri(), "mlflow_experiment": f"evalplatform-{project.slug}",
        "wandb_project": f"evalplatform-{project.slug}", "wandb_entity": "",
    }
    out = {}
    for name, env in SETTING_ENV.items():
        own = getattr(stored, name, "") if stored else ""
        if own:
            out[name] = Setting(own, "project")
        elif os.environ.get(env):
            out[name] = Setting(os.environ[env], "environment")
        else:
            out[name] = Setting(defaults[name], "default")
    return out


def _check_uri(uri: str) -> str | None:
    """Why ``uri`` cannot be a project's MLflow tracking URI, or None."""
    if uri in ("databricks", "databricks-uc"):  # the workspace of the server's Databricks configuration
        return None
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in URI_SCHEMES:
        return (f"uses the scheme {scheme + ':' if scheme else '(none)'}, which is not allowed; use one of "
                f"{', '.join(s + ':' for s in URI_SCHEMES)} (a database or any other store goes in the server's "
                "MLFLOW_TRACKING_URI environment variable)")
    if parts.username is not None or parts.password is not None:
        return ("holds credentials (user:password@); secrets are never stored: put them in the server's "
                "environment (MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN)")
    if scheme in ("http", "https") and not parts.hostname:
        return f"has no host name (write it as {scheme}://host[:port][/path])"
    if parts.query and re.search(r"(token|key|secret|password)", parts.query, re.IGNORECASE):
        return "holds what looks like a secret in its query string; secrets only come from the server's environment"
    if scheme == "file":
        root = Path(settings.VAR_DIR).resolve()
        path = Path(parts.path).resolve()
        if parts.netloc not in ("", "localhost") or not path.is_relative_to(root):
            return f"names a file store outside the server's data directory; it must be inside {root.as_uri()}"
    return None


def clean_tracking_settings(changes: Mapping[str, Any]) -> dict[str, str]:
    """The settings ``changes`` names, stripped, or ``TrackingSettingsError`` saying what is wrong with each."""
    unknown = set(changes) - set(SETTING_FIELDS)
    if unknown:
        raise TrackingSettingsError({name: "not a tracking setting" for name in sorted(unknown)})
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for name, value in changes.items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[name] = "must be text"
            continue
        value = value.strip()
        limit = getattr(TrackingSettings._meta.get_field(name), "max_length", 0) or 0
        if len(value) > limit:
            errors[name] = f"is {len(value)} characters long, over the limit of {limit}"
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            errors[name] = "holds a control character (a line break or tab, say)"
        elif value and name == "mlflow_tracking_uri" and (why := _check_uri(value)):
            errors[name] = f"This URI {why}"  # not echoed: it may hold the very secret it is refused for
        elif value and name == "wandb_project" and (bad := sorted(_W_AND_B_FORBIDDEN & set(value))):
            errors[name] = f"a W&B project name cannot hold {' '.join(bad)}"
        elif value and name == "wandb_entity" and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", value):
            errors[name] = "a W&B entity (user or team) is letters, digits, '-' and '_', starting with a letter or digit"
        clean[name] = value
    if errors:
        raise TrackingSettingsError(errors)
    return clean


@transaction.atomic
def update_tracking_settings(*, project: Project, **changes: Any) -> TrackingSettings:
    """Set the project's tracking settings named in ``changes`` (an empty value: use the environment's)."""
    clean = clean_tracking_settings(changes)
    stored, _ = TrackingSettings.objects.select_for_update().get_or_create(project=project)
    for name, value in clean.items():
        setattr(stored, name, value)
    stored.save()
    return stored


# --- What a run holds ----------------------------------------------------------------------------


def _key(*parts: Any) -> str:
    """A tracker-safe metric name from its parts (letters, digits, ``_ - . /`` and space)."""
    return "/".join(re.sub(r"[^\w\-. ]", "_", str(p)) for p in parts)


def _put(out: dict[str, float], name: str, value: Any, ci: Any = None) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        out[name] = float(value)
    if isinstance(ci, list | tuple) and len(ci) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in ci):
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = float(ci[0]), float(ci[1])


def report_params(report: AgreementReport) -> dict[str, str]:
    result = report.result or {}
    parameters = result.get("parameters") or {}
    manifest = result.get("manifest") or {}
    project = report.project
    out = {
        "project": project.slug, "report_id": str(report.pk), "rubric_version": str(project.rubric_version_id),
        "seed": str(parameters.get("seed", 0)), "bootstrap": str(parameters.get("bootstrap", 1000)),
        "n_ratings": str(report.n_ratings), "data_seq": str(report.data_seq),
        "ratings_sha256": str(manifest.get("ratings_sha256", "")),
    }
    for key in ("include_automated", "include_paused", "include_gold"):
        if key in parameters:
            out[key] = str(parameters[key])
    return out


def report_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The report's headline figures, flat (``dimension/<key>/alpha`` etc.), only the defined ones."""
    out: dict[str, float] = {}
    for dim in result.get("dimensions") or []:
        base = ("dimension", dim["dimension"])
        alpha, fleiss = dim.get("krippendorff_alpha") or {}, dim.get("fleiss_kappa") or {}
        cohen = dim.get("cohen_kappa") or {}
        _put(out, _key(*base, "alpha"), alpha.get("value"), alpha.get("ci95"))
        _put(out, _key(*base, "fleiss_kappa"), fleiss.get("value"), fleiss.get("ci95"))
        _put(out, _key(*base, "cohen_kappa"), cohen.get("mean"), cohen.get("ci95"))
        for row in dim.get("by_model") or []:
            _put(out, _key("mean", row["model"], dim["dimension"]), row.get("mean"), row.get("ci95"))
    for board in result.get("leaderboard") or []:
        for row in board.get("models") or []:
            _put(out, _key("bradley_terry", board["dimension"], row["model"]), row.get("rating"), row.get("ci95"))
    for judge in result.get("judges") or []:
        for dim in judge.get("dimensions") or []:
            for figure in ("judge_kappa", "alpha_with_judge", "kappa_gap", "offset", "spearman"):
                estimate = dim.get(figure) or {}
                name = "spearman" if figure == "spearman" else figure
                _put(out, _key("judge", judge["rater"], dim["dimension"], name), estimate.get("value"),
                     estimate.get("ci95"))
    reference = result.get("reference_metrics") or {}
    for row in reference.get("models") or []:
        for metric, value in (row.get("metrics") or {}).items():
            _put(out, _key("reference", row["model"], metric), value.get("mean"), value.get("ci95"))
    return out


def artefact_options(report: AgreementReport):
    """The ratings export's options for ``report``: the ratings the report counted."""
    from evalplatform.ratings.exports import REPORT_DEFAULTS, export_options

    parameters = report.parameters or {}
    return export_options(report.project, **{k: parameters.get(k) for k in REPORT_DEFAULTS})


def _write(path: Path, pieces: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        for piece in pieces:
            out.write(piece)


def write_artefacts(report: AgreementReport, directory: Path) -> dict[str, Path]:
    """The run's files in ``directory``: ``report.json``, ``ratings.csv`` (the ratings export with the
    report's options) and ``consensus.csv`` (the consensus export, left out when the project has no
    consensus labels yet).  The exports are streamed to disk, so a large project costs no memory."""
    from evalplatform.ratings.exports import ExportError, export_lines, formats

    project = report.project
    files = {"report.json": directory / "report.json"}
    files["report.json"].write_text(json.dumps(report.result, indent=1, ensure_ascii=False), encoding="utf-8")
    files["ratings.csv"] = directory / "ratings.csv"
    _write(files["ratings.csv"], export_lines(project, "csv", options=artefact_options(report)))
    if "consensus-csv" in formats():
        try:
            pieces = export_lines(project, "consensus-csv")
        except ExportError as exc:
            log.info("report %s: no consensus artefact (%s)", report.pk, exc)
        else:
            files["consensus.csv"] = directory / "consensus.csv"
            _write(files["consensus.csv"], pieces)
    return files


# --- The trackers ------------------------------------------------------------------------------


def _mlflow_run(report: AgreementReport) -> tuple[str, str]:
    try:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise TrackingError("MLflow logging needs the mlflow client: pip install 'evalplatform[tracking]'") from exc

    where = effective_settings(report.project)
    uri = where["mlflow_tracking_uri"].value
    if uri.startswith("file:"):  # MLflow 3 keeps its local file store behind this switch
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=uri)
    name = where["mlflow_experiment"].value
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    run = client.create_run(experiment_id, run_name=f"{report.project.slug}-report-{report.pk}",
                            tags={"evalplatform.report_id": str(report.pk)})
    run_id = run.info.run_id
    url = mlflow_run_url(uri, experiment_id, run_id)
    try:
        stamp = int((report.finished_at.timestamp() if report.finished_at else 0) * 1000)
        metrics = [Metric(k, v, stamp, 0) for k, v in sorted(report_metrics(report.result or {}).items())]
        params = [Param(k, v) for k, v in report_params(report).items()]
        for start in range(0, max(len(metrics), 1), 1000):  # MLflow's batch limit
            client.log_batch(run_id, metrics=metrics[start:start + 1000], params=params if start == 0 else [])
        with tempfile.TemporaryDirectory(prefix="evalplatform-run-") as tmp:
            for path in write_artefacts(report, Path(tmp)).values():
                client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, "FINISHED")
    except Exception:
        client.set_terminated(run_id, "FAILED")
        raise
    return run_id, url


def mlflow_run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """The MLflow UI's page of a run on a tracking server (``http(s)://``); "" for a local store."""
    if not tracking_uri.startswith(("http://", "https://")):
        return ""
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def wandb_dir() -> Path:
    """Where W&B writes its runs (``<this>/wandb/offline-run-*/run-<id>.wandb``): ``WANDB_DIR``, else the var dir."""
    return Path(os.environ.get("WANDB_DIR") or settings.VAR_DIR)


def _wandb_run(report: AgreementReport) -> tuple[str, str]:
    try:
        import wandb
    except ImportError as exc:
        raise TrackingError("W&B logging needs the wandb package: pip install 'evalplatform[tracking]'") from exc

    where = effective_settings(report.project)
    # W&B stages an artefact's files before a sync uploads them: under the var dir, not the user's home
    os.environ.setdefault("WANDB_DATA_DIR", str(Path(settings.VAR_DIR) / "wandb-data"))
    # the platform's model client is openai, which makes W&B suggest its LLM tracer on every run: not ours to trace
    os.environ.setdefault("WANDB_DISABLE_WEAVE", "true")
    directory = wandb_dir()
    directory.mkdir(parents=True, exist_ok=True)
    slug = report.project.slug
    mode = os.environ.get("WANDB_MODE") or "offline"
    run = wandb.init(
        project=where["wandb_project"].value, entity=where["wandb_entity"].value or None,
        name=f"{slug}-report-{report.pk}", job_type="evaluation-report", config=report_params(report),
        tags=[slug], mode=cast(Any, mode), dir=str(directory), reinit="create_new",
        settings=wandb.Settings(silent=True, console="off", x_disable_stats=True, disable_git=True,
                                save_code=False, x_save_requirements=False),
    )
    try:
        run.log(report_metrics(report.result or {}), step=0)
        with tempfile.TemporaryDirectory(prefix="evalplatform-run-") as tmp:
            artefact = wandb.Artifact(f"{slug}-report-{report.pk}", type="evaluation-report",
                                      metadata={"report_id": report.pk, "project": slug})
            for name, path in write_artefacts(report, Path(tmp)).items():
                artefact.add_file(str(path), name=name)  # copied to W&B's staging area here
            run.log_artifact(artefact)
            run.finish(exit_code=0)
    except Exception:
        run.finish(exit_code=1)
        raise
    # An online run has a page on W&B (run.url); an offline one has none until it is synced.
    url = str(getattr(run, "url", None) or "") if mode == "online" else ""
    return str(run.id), url


def log_report(report: AgreementReport, *, to: str) -> TrackingRun:
    """Log a done report to ``to`` (``mlflow`` or ``wandb``) and store the run id; the stored run if already logged."""
    if to not in BACKENDS:
        raise TrackingError(f"unknown tracking backend {to!r} (known: {', '.join(BACKENDS)})")
    if report.status != AgreementReport.Status.DONE:
        raise TrackingError(f"report {report.pk} is {report.status}, not done: only a finished report is logged")
    existing = TrackingRun.objects.filter(report=report, backend=to).first()
    if existing is not None:
        return existing
    run_id, url = _mlflow_run(report) if to == "mlflow" else _wandb_run(report)
    run, _ = TrackingRun.objects.get_or_create(report=report, backend=to, defaults={"run_id": run_id, "url": url})
    return run


def backends_from_environment() -> list[str]:
    """The backends ``EVAL_TRACKING`` names (comma-separated); an unknown name is logged and skipped."""
    names = [b.strip() for b in os.environ.get("EVAL_TRACKING", "").split(",") if b.strip()]
    for name in names:
        if name not in BACKENDS:
            log.warning("EVAL_TRACKING names %r, which is not a tracker (known: %s): skipped", name, ", ".join(BACKENDS))
    return list(dict.fromkeys(b for b in names if b in BACKENDS))


def on_report_stored(report: AgreementReport) -> None:
    """The report-done hook: enqueue a tracking task per backend named in ``EVAL_TRACKING``."""
    for backend in backends_from_environment():
        # robust: a tracker that fails in-process (the embedded runner) is logged, never the report's failure
        transaction.on_commit(_sender(report.pk, backend), robust=True)


def _sender(report_id: int, backend: str) -> Callable[[], None]:
    def send_to_tracker() -> None:
        enqueue(TRACKING_TASK, report_id, backend)

    return send_to_tracker
