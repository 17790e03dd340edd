"""``/health/``: is this web process able to reach what the platform needs?

Reports the database, the broker (Redis) and the Celery workers separately, so an operator sees
which part is down; the error texts and worker names are shown to admins only.  Status 200 when the
database answers (the platform's record: raters can work), 503 when it does not.  Redis or workers
being down is reported, not fatal: ratings still save and reports catch up once they are back.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _timed(check) -> dict:
    start = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # a health check reports failures, it never raises them
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1), **(detail or {})}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _redis() -> dict:
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    return {}


def _workers() -> dict:
    from evalplatform.celery_app import app

    replies = app.control.ping(timeout=1.0) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError("no Celery worker answered within 1 s")
    return {"count": len(names), "names": names}


@never_cache
@require_GET
def health(request):
    checks = {"database": _timed(_database)}
    if settings.REDIS_URL:
        checks["redis"] = _timed(_redis)
        checks["workers"] = _timed(_workers) if checks["redis"]["ok"] else {"ok": False, "error": "broker unreachable"}
    else:
        checks["redis"] = {"ok": True, "mode": "embedded: tasks run in-process"}
        checks["workers"] = {"ok": True, "mode": "embedded: tasks run in-process"}
    status = 200 if checks["database"]["ok"] else 503
    if not (request.user.is_authenticated and request.user.is_staff):
        # Load balancers and monitors need the verdicts; error texts and worker host names are for admins.
        checks = {name: {k: v for k, v in check.items() if k in ("ok", "ms", "count", "mode")}
                  for name, check in checks.items()}
    return JsonResponse({"ok": all(c["ok"] for c in checks.values()), "checks": checks}, status=status)
