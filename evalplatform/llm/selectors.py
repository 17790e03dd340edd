"""Reads about model runs: progress for the dashboard and API, and what each judge run cost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from evalplatform.llm.models import Call, ModelEndpoint, Run
from evalplatform.projects.models import Project

STATUSES = [s.value for s in Call.Status]


def runs_of(project: Project) -> QuerySet[Run]:
    return Run.objects.filter(project=project).prefetch_related("endpoints").order_by("-created_at", "-id")


def progress_of(runs: list[Run]) -> dict[int, dict[str, Any]]:
    """Per run: calls by status, done share, tokens and cost (one grouped query for all the runs)."""
    out: dict[int, dict[str, Any]] = {
        r.pk: {**{s: 0 for s in STATUSES}, "total": 0, "cost": Decimal(0), "prompt_tokens": 0,
               "completion_tokens": 0, "cached": 0}
        for r in runs
    }
    rows = (Call.objects.filter(run__in=[r.pk for r in runs]).values("run_id", "status")
            .annotate(n=Count("id"), cost=Sum("cost"), pt=Sum("prompt_tokens"), ct=Sum("completion_tokens"),
                      cached=Count("id", filter=Q(cached=True))))
    for row in rows:
        entry = out[row["run_id"]]
        entry[row["status"]] += row["n"]
        entry["total"] += row["n"]
        entry["cost"] += row["cost"] or Decimal(0)
        entry["prompt_tokens"] += row["pt"] or 0
        entry["completion_tokens"] += row["ct"] or 0
        entry["cached"] += row["cached"]
    for entry in out.values():
        finished = entry["done"] + entry["invalid"] + entry["failed"]
        entry["finished"] = finished
        entry["fraction"] = round(finished / entry["total"], 4) if entry["total"] else 1.0
    return out


def run_summary(run: Run) -> dict[str, Any]:
    """What the API and pages show of a run (never an endpoint's key)."""
    progress = progress_of([run])[run.pk]
    return {
        "id": run.pk, "project": run.project.slug, "kind": run.kind, "status": run.status,
        "endpoints": [e.name for e in run.endpoints.all()], "prompt_version": run.prompt_version,
        "created_at": run.created_at, "finished_at": run.finished_at,
        "progress": {**progress, "cost": str(progress["cost"])},
    }


def invalid_outputs(run: Run, limit: int = 50) -> list[dict[str, Any]]:
    """The run's invalid outputs with the reason, for the lead to read."""
    rows = (Call.objects.filter(run=run, status=Call.Status.INVALID).order_by("id")
            .values("id", "endpoint__name", "item__external_id", "task_id", "error", "output")[:limit])
    return [{"call": r["id"], "endpoint": r["endpoint__name"], "item": r["item__external_id"], "task": r["task_id"],
             "reason": r["error"], "output": r["output"][:2000]} for r in rows]


def endpoint_public(endpoint: ModelEndpoint) -> dict[str, Any]:
    """An endpoint as pages and the API show it: whether it has a key, never the key."""
    return {
        "id": endpoint.pk, "name": endpoint.name, "base_url": endpoint.base_url, "model": endpoint.model,
        "parameters": endpoint.parameters(), "requests_per_minute": endpoint.requests_per_minute,
        "max_concurrency": endpoint.max_concurrency, "supports_json_schema": endpoint.supports_json_schema,
        "has_secret": endpoint.has_secret, "secret_source": "environment" if endpoint.api_key_env else (
            "stored" if endpoint.api_key_encrypted else "none"),
        "price_input_per_million": str(endpoint.price_input_per_million),
        "price_output_per_million": str(endpoint.price_output_per_million),
    }
