"""Calling language models from the platform: draft responses (generation runs) and LLM judges.

A lead starts a run over a project's items (generation) or tasks (judge) with one or more
``ModelEndpoint``s.  ``start_generation`` / ``start_judge`` check everything up front (the template
against every item, the endpoints' keys, the judge accounts) and create one ``Call`` per request,
then enqueue ``process_run`` tasks after commit.  Each task loops: take a concurrency place of an
endpoint (``limits``), claim one of its pending calls with a lease (a conditional update, so two
workers never claim the same call; a lapsed lease - a killed worker - makes the call claimable again),
run it (``client.complete``: rate slot, retries on 429/5xx) and store the outcome with the call's
completion in one transaction:

- generation: a ``Response`` named after the endpoint, and its tasks (``projects.ensure_tasks``), so
  raters get it like an imported one.  ``Response`` is unique per (item, model): a repeated call can
  never store a second one.
- judge: the output is parsed tolerantly and validated exactly like a rater's submission
  (``ratings.services.submit_automated_rating``) as the rating of the automated rater
  ``judge:<endpoint>``, unique per (task, rater).  An output that fails is kept on the call with the
  reason (status ``invalid``) and counted, never stored as scores.

Identical requests (endpoint, model, parameters, messages, response format) are answered from
``CachedCompletion``: a re-run is free and gives the same answers.  Cancelling stops new calls
(calls in flight finish and are kept); resuming sends the cancelled and failed calls again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from evalplatform.dispatch import enqueue
from evalplatform.llm import prompts
from evalplatform.llm.client import CallFailed, Completion, complete, max_backoff
from evalplatform.llm.limits import ConcurrencySlot
from evalplatform.llm.models import CachedCompletion, Call, ModelEndpoint, Run
from evalplatform.llm.secrets import SecretError, api_key_for, encrypt
from evalplatform.projects.models import Item, Project, Response, Task
from evalplatform.projects.services import ensure_tasks
from evalplatform.ratings.importing import AUTOMATED_PREFIX
from evalplatform.ratings.services import SubmitError, submit_automated_rating

log = logging.getLogger(__name__)
User = get_user_model()
OPEN = (Call.Status.PENDING, Call.Status.RUNNING)


#: The task these services enqueue, by name (``tasks.py`` imports this module, not the reverse).
PROCESS_TASK = "evalplatform.llm.tasks.process_run"


class RunError(Exception):
    """A run cannot start or change as asked; the message says why (shown to the lead as a 400)."""


# --- endpoints ---------------------------------------------------------------------------------

def set_endpoint_secret(*, endpoint: ModelEndpoint, api_key: str | None = None, api_key_env: str | None = None) -> ModelEndpoint:
    """Store a new key (encrypted) or the name of the variable holding it; an empty key clears the stored one.

    Setting one clears the other, so an endpoint has one source of its key.
    """
    if api_key_env is not None:
        endpoint.api_key_env = api_key_env.strip()
        if endpoint.api_key_env:
            endpoint.api_key_encrypted = None
    if api_key is not None:
        endpoint.api_key_encrypted = encrypt(api_key) if api_key else None
        if api_key:
            endpoint.api_key_env = ""
    endpoint.save(update_fields=["api_key_env", "api_key_encrypted"])
    return endpoint


def create_endpoint(*, name: str, base_url: str, model: str, api_key: str | None = None,
                    api_key_env: str = "", **fields: Any) -> ModelEndpoint:
    """Register an endpoint (validated like the admin form); the key is encrypted, never stored as given."""
    endpoint = ModelEndpoint(name=name, base_url=base_url, model=model, api_key_env=api_key_env, **fields)
    if api_key:
        endpoint.api_key_encrypted = encrypt(api_key)
    endpoint.full_clean(exclude=["api_key_encrypted"])
    endpoint.save()
    return endpoint


def judge_rater(endpoint: ModelEndpoint):
    """The automated rater account of the endpoint's judge, ``judge:<name>`` (created inactive)."""
    name = f"{AUTOMATED_PREFIX}{endpoint.name}"
    user = User.objects.filter(username=name).first()
    if user is None:
        user = User(username=name, is_active=False, is_automated=True)
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            user = User.objects.get(username=name)
    if not user.is_automated:
        raise RunError(f"{name!r} is a human rater's account; rename the endpoint")
    return user


# --- starting, cancelling, resuming -----------------------------------------------------------

def _check_endpoints(endpoints: Sequence[ModelEndpoint]) -> list[ModelEndpoint]:
    endpoints = list(dict.fromkeys(endpoints))
    if not endpoints:
        raise RunError("choose at least one model endpoint")
    for endpoint in endpoints:
        try:
            api_key_for(endpoint)
        except SecretError as exc:
            raise RunError(f"endpoint {endpoint.name}: {exc}") from None
    return endpoints


def start_generation(*, project: Project, endpoints: Sequence[ModelEndpoint], template: str = prompts.DEFAULT_GENERATION_TEMPLATE,
                     items: Iterable[str] | None = None, user=None) -> Run:
    """Start drafting a response to each chosen item (all when ``items`` is None) with each endpoint.

    Items that already have a response named after an endpoint are left out for that endpoint.
    All or nothing: an unknown item, a template field an item lacks, an endpoint whose key cannot be
    read is a ``RunError`` and nothing is created.
    """
    endpoints = _check_endpoints(endpoints)
    try:
        prompts.check_template(template, prompts.GENERATION_FIELDS)
    except prompts.TemplateError as exc:
        raise RunError(str(exc)) from None
    chosen = Item.objects.filter(project=project).order_by("id")
    if items is not None:
        wanted = list(dict.fromkeys(str(i) for i in items))
        chosen = chosen.filter(external_id__in=wanted)
        missing = set(wanted) - set(chosen.values_list("external_id", flat=True))
        if missing:
            raise RunError(f"no item(s) {', '.join(sorted(missing)[:10])} in project {project.slug}")
    chosen_items = list(chosen)
    if not chosen_items:
        raise RunError("the project has no items to generate responses for")
    problems = []
    for item in chosen_items:
        try:
            prompts.render_generation(template, item)
        except prompts.TemplateError as exc:
            problems.append(str(exc))
    if problems:
        raise RunError("the template does not fit every item: " + "; ".join(problems[:10])
                       + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))
    names = [e.name for e in endpoints]
    have = set(Response.objects.filter(item__in=chosen_items, model__in=names).values_list("item_id", "model"))
    with transaction.atomic():
        run = Run.objects.create(project=project, kind=Run.Kind.GENERATION, prompt_template=template,
                                 prompt_version=prompts.prompt_version("generation", template), created_by=user)
        run.endpoints.set(endpoints)
        Call.objects.bulk_create(
            [Call(run=run, endpoint=e, item=item) for item in chosen_items for e in endpoints
             if (item.pk, e.name) not in have],
            batch_size=1000,
        )
        _finish_if_complete(run.pk)
        _enqueue_after_commit(run.pk)
    run.refresh_from_db()
    return run


def start_judge(*, project: Project, endpoints: Sequence[ModelEndpoint], template: str | None = None,
                tasks: Iterable[int] | None = None, include_gold: bool = False, user=None) -> Run:
    """Start an LLM judge (one per endpoint) on the project's tasks (or the ``tasks`` ids given).

    Tasks the judge has already rated are left out.  The judge prompt is built from the project's
    rubric version (see ``prompts``); ``template`` replaces the default layout of its user message.
    """
    endpoints = _check_endpoints(endpoints)
    template = template or prompts.DEFAULT_JUDGE_TEMPLATE
    try:
        prompts.check_template(template, prompts.JUDGE_FIELDS)
    except prompts.TemplateError as exc:
        raise RunError(str(exc)) from None
    if "{schema}" not in template:
        raise RunError("the judge template must include {schema}: endpoints without structured output need it")
    chosen = Task.objects.filter(project=project).order_by("id")
    if tasks is not None:
        wanted = {int(t) for t in tasks}
        chosen = chosen.filter(pk__in=wanted)
        missing = wanted - set(chosen.values_list("id", flat=True))
        if missing:
            raise RunError(f"no task(s) {', '.join(str(t) for t in sorted(missing)[:10])} in project {project.slug}")
    elif not include_gold:
        chosen = chosen.filter(is_gold=False)
    rows = list(chosen.values_list("id", "item_id"))
    if not rows:
        raise RunError("the project has no tasks to judge")
    with transaction.atomic():
        raters = {e.pk: judge_rater(e) for e in endpoints}  # inside: a refused start creates no account
        run = Run.objects.create(
            project=project, kind=Run.Kind.JUDGE, prompt_template=template, created_by=user,
            prompt_version=prompts.prompt_version("judge", template, project.rubric_version_id),
        )
        run.endpoints.set(endpoints)
        calls = []
        for endpoint in endpoints:
            rated = set(project.ratings.filter(rater=raters[endpoint.pk]).values_list("task_id", flat=True))
            calls += [Call(run=run, endpoint=endpoint, item_id=item_id, task_id=task_id)
                      for task_id, item_id in rows if task_id not in rated]
        Call.objects.bulk_create(calls, batch_size=1000)
        _finish_if_complete(run.pk)
        _enqueue_after_commit(run.pk)
    run.refresh_from_db()
    return run


def cancel_run(*, run: Run) -> Run:
    """Stop the run: no new calls start; calls in flight finish and are kept.  Idempotent."""
    with transaction.atomic():
        Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(status=Run.Status.CANCELLED, finished_at=timezone.now())
        Call.objects.filter(run=run, status=Call.Status.PENDING).update(status=Call.Status.CANCELLED)
    run.refresh_from_db()
    return run


def resume_run(*, run: Run) -> Run:
    """Send the run's cancelled and failed calls again (answers already stored are never asked again)."""
    with transaction.atomic():
        Call.objects.filter(run=run, status__in=[Call.Status.CANCELLED, Call.Status.FAILED]).update(
            status=Call.Status.PENDING, error="")
        Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, finished_at=None)
        _finish_if_complete(run.pk)
        _enqueue_after_commit(run.pk)
    run.refresh_from_db()
    return run


def _enqueue_after_commit(run_id: int) -> None:
    transaction.on_commit(lambda: _enqueue_workers(run_id))


def _enqueue_workers(run_id: int) -> None:
    """As many ``process_run`` tasks as the endpoints can use at once (at most ``EVAL_LLM_RUN_WORKERS``)."""
    run = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).first()
    if run is None:
        return
    open_calls = Call.objects.filter(run_id=run_id, status__in=OPEN).count()
    width = sum(e.max_concurrency for e in run.endpoints.all())
    n = min(open_calls, width, int(getattr(settings, "EVAL_LLM_RUN_WORKERS", 8)))
    for _ in range(max(n, 0)):
        enqueue(PROCESS_TASK, run_id)


def _finish_if_complete(run_id: int) -> bool:
    if Call.objects.filter(run_id=run_id, status__in=OPEN).exists():
        return False
    return bool(Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).update(
        status=Run.Status.DONE, finished_at=timezone.now()))


# --- running ---------------------------------------------------------------------------------------

def call_lease(endpoint: ModelEndpoint) -> float:
    """How long one attempt may hold a call and a concurrency place before others may take them."""
    return endpoint.timeout_seconds + max_backoff() + float(getattr(settings, "EVAL_LLM_LEASE_MARGIN", 5.0))


def _claim(run_id: int, endpoint: ModelEndpoint) -> Call | None:
    now = timezone.now()
    claimable = Q(status=Call.Status.PENDING) | Q(status=Call.Status.RUNNING, lease_until__lt=now)
    candidates = list(Call.objects.filter(claimable, run_id=run_id, endpoint=endpoint)
                      .order_by("id").values_list("id", flat=True)[:8])
    for call_id in candidates:
        claimed = Call.objects.filter(claimable, pk=call_id).update(
            status=Call.Status.RUNNING, lease_until=now + timedelta(seconds=call_lease(endpoint)),
            attempts=F("attempts") + 1)
        if claimed:
            return Call.objects.select_related("item", "task__item", "task__response_a", "task__response_b").get(pk=call_id)
    return None


def process_run(*, run_id: int, idle_sleep: float = 0.25) -> int:
    """Work on the run until no call is left open (or it is cancelled); returns how many calls this did.

    Several of these run at once (workers, threads); the limits and the claim keep them apart.
    A call another worker holds is waited for: if that worker died, its lease lapses and this one
    takes the call over.
    """
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return 0
    endpoints = {e.pk: e for e in run.endpoints.all()}
    done = 0
    while endpoints:
        if not Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).exists():
            break
        progressed = False
        for endpoint in list(endpoints.values()):
            slot = ConcurrencySlot.take(endpoint.pk, endpoint.max_concurrency, call_lease(endpoint))
            if slot is None:
                continue
            try:
                call = _claim(run_id, endpoint)
                if call is None:
                    if not Call.objects.filter(run_id=run_id, endpoint=endpoint, status__in=OPEN).exists():
                        del endpoints[endpoint.pk]
                    continue
                execute_call(call=call, endpoint=endpoint, slot=slot, run=run)
                done += 1
                progressed = True
            finally:
                slot.release()
        if not progressed and endpoints:
            time.sleep(idle_sleep)
    _finish_if_complete(run_id)
    return done


def request_key(endpoint: ModelEndpoint, messages: list[dict[str, str]], response_format: dict | None) -> str:
    """The identity of a request for the cache: endpoint, model, parameters, messages and format."""
    payload = {"endpoint": endpoint.name, "base_url": endpoint.base_url, "model": endpoint.model,
               "parameters": endpoint.parameters(), "messages": messages, "response_format": response_format}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _refuses_schema(exc: CallFailed, response_format: dict | None) -> bool:
    """A 400 about the response format to a json_schema request: the endpoint lacks structured output."""
    return (exc.status in (400, 422) and bool(response_format) and (response_format or {}).get("type") == "json_schema"
            and ("response_format" in str(exc) or "json_schema" in str(exc)))


def _cost(endpoint: ModelEndpoint, completion: Completion) -> Decimal:
    tokens_in = Decimal(completion.prompt_tokens or 0)
    tokens_out = Decimal(completion.completion_tokens or 0)
    return (tokens_in * endpoint.price_input_per_million + tokens_out * endpoint.price_output_per_million) / Decimal(1_000_000)


def _close(call: Call, status: str, **fields: Any) -> bool:
    """Finish the call if this worker still holds it (a conditional update, like every claim)."""
    return bool(Call.objects.filter(pk=call.pk, status=Call.Status.RUNNING).update(
        status=status, lease_until=None, finished_at=timezone.now(), **fields))


def execute_call(*, call: Call, endpoint: ModelEndpoint, slot: ConcurrencySlot | None, run: Run) -> str:
    """Make one call (or answer it from the cache) and store its outcome; returns the call's status."""
    project = run.project
    try:
        if run.kind == Run.Kind.GENERATION:
            messages = prompts.generation_messages(run.prompt_template, call.item)
            response_format = None
        else:
            assert call.task is not None
            messages, schema = prompts.judge_messages(run.prompt_template, project, call.task)
            response_format = prompts.response_format_for(schema, structured=endpoint.supports_json_schema)
    except (prompts.TemplateError, KeyError, ValueError) as exc:
        _close(call, Call.Status.FAILED, error=f"the prompt could not be built: {exc}")
        return Call.Status.FAILED
    key = request_key(endpoint, messages, response_format)
    lease = call_lease(endpoint)
    cached = CachedCompletion.objects.filter(key=key).first()
    if cached is not None:
        completion = Completion(content=cached.content, model_name=cached.model_name, prompt_tokens=cached.prompt_tokens,
                                completion_tokens=cached.completion_tokens, latency_ms=0, attempts=0)
    else:
        def before_attempt(attempt: int) -> None:
            if slot is not None:
                slot.extend(lease)
            Call.objects.filter(pk=call.pk, status=Call.Status.RUNNING).update(
                lease_until=timezone.now() + timedelta(seconds=lease))

        try:
            try:
                completion = complete(endpoint, messages, response_format=response_format, before_attempt=before_attempt)
            except CallFailed as exc:
                if not _refuses_schema(exc, response_format):
                    raise
                # An endpoint without structured output: JSON mode, with the schema in the prompt.
                response_format = {"type": "json_object"}
                completion = complete(endpoint, messages, response_format=response_format, before_attempt=before_attempt)
        except (CallFailed, SecretError) as exc:
            _close(call, Call.Status.FAILED, error=str(exc))
            return Call.Status.FAILED
        try:
            with transaction.atomic():
                CachedCompletion.objects.create(
                    key=key, content=completion.content, model_name=completion.model_name,
                    prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens)
        except IntegrityError:
            pass  # another worker cached the same request first
    record = {
        "request_hash": key, "model_name": completion.model_name, "parameters": endpoint.parameters(),
        "output": completion.content, "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens, "latency_ms": completion.latency_ms,
        "cost": Decimal(0) if cached is not None else _cost(endpoint, completion), "cached": cached is not None,
    }
    if run.kind == Run.Kind.GENERATION:
        return _store_generation(call, endpoint, project, completion, record)
    return _store_judgement(call, endpoint, completion, record)


def _store_generation(call: Call, endpoint: ModelEndpoint, project: Project, completion: Completion, record: dict) -> str:
    if not completion.content.strip():
        _close(call, Call.Status.INVALID, error="the model returned no text", **record)
        return Call.Status.INVALID
    response: Response | None
    with transaction.atomic():
        try:
            with transaction.atomic():
                position = Response.objects.filter(item_id=call.item_id).count()
                response = Response.objects.create(item_id=call.item_id, model=endpoint.name, text=completion.content,
                                                   position=position)
        except IntegrityError:
            # Stored already: by this call before its worker died, or by another run at the same time.
            response = Response.objects.get(item_id=call.item_id, model=endpoint.name)
        ensure_tasks(project=project, item_ids=[call.item_id])
        owner = Call.objects.filter(response=response).exclude(pk=call.pk).values_list("run_id", flat=True).first()
        if owner is not None:
            record = {**record, "error": f"a response from {endpoint.name} was stored by run {owner} first"}
            response = None
        _close(call, Call.Status.DONE, response=response, **record)
    return Call.Status.DONE


def _store_judgement(call: Call, endpoint: ModelEndpoint, completion: Completion, record: dict) -> str:
    assert call.task is not None
    try:
        scores, justification = prompts.parse_judge_output(completion.content)
        with transaction.atomic():
            submitted = submit_automated_rating(task=call.task, rater=judge_rater(endpoint), scores=scores,
                                                justification=justification)
            _close(call, Call.Status.DONE, rating=submitted.rating, **record)
    except (prompts.OutputError, SubmitError) as exc:
        _close(call, Call.Status.INVALID, error=str(exc), **record)
        return Call.Status.INVALID
    return Call.Status.DONE
