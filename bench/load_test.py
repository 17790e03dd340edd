"""Load test: 50 simulated raters for 5 minutes against the production setup, then the invariants.

Starts, on this machine and on loopback only: gunicorn (the web tier), two Celery workers and
PostgreSQL + Redis that must already be running.  Builds a fresh database with a 20,000-item project
(overlap 3) and 50 raters; each rater claims, thinks briefly, submits, again, while a lead asks for a
report every 30 s (and submissions schedule debounced refreshes).  Prints ratings per second,
p50/p95/p99 of claim and submit, errors, the reports computed, and then checks in the database:
no task over its overlap, no duplicate (task, rater), every acknowledged submission present.

    .venv/bin/python bench/load_test.py [--raters 50] [--seconds 300] [--items 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_queue import PRODUCTION, ROOT, SCORES, Rater, free_port, percentile


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time in seconds")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    args = parser.parse_args()

    import psycopg
    import redis

    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    db_name = "load_test"
    with psycopg.connect(args.pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db_name}")
    redis.Redis.from_url(args.redis_url).flushdb()
    db_url = args.pg_url.rsplit("/", 1)[0] + "/" + db_name
    env = {**os.environ, **PRODUCTION, "DJANGO_SETTINGS_MODULE": "evalplatform.settings", "DATABASE_URL": db_url,
           "REDIS_URL": args.redis_url, "EVAL_REPORT_REFRESH_DELAY": "10", "EVAL_VAR_DIR": str(out / "var"),
           "LOG_LEVEL": "WARNING", "CELERY_QUEUE": "load-test", "EVAL_THROTTLE_SUBMIT": "100000/min"}
    t0 = time.perf_counter()
    raw = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_queue.py"), "setup", "--items", str(args.items),
                          "--raters", str(args.raters + 1)], env=env, cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout
    info = json.loads(raw.strip().splitlines()[-1])
    lead_token = info["tokens"].pop()  # the extra account becomes the lead
    subprocess.run([sys.executable, "manage.py", "shell", "-c",
                    "from evalplatform.projects.models import Membership as M; "
                    f"M.objects.filter(user__username='rater{args.raters}').update(role='lead')"],
                   env=env, cwd=ROOT, check=True)
    print(f"set up {args.items:,} items, {args.raters} raters in {time.perf_counter() - t0:.0f}s", flush=True)

    port = free_port()
    procs = [
        start([sys.executable, "-m", "gunicorn", "evalplatform.wsgi", "-b", f"127.0.0.1:{port}", "-k", "gthread",
               "-w", "3", "--threads", "16", "--log-level", "warning"], env, out / "load-web.log"),
        *(start([sys.executable, "-m", "celery", "-A", "evalplatform.celery_app", "worker", "-Q", "load-test", "-c", "1",
                 "-n", f"load{i}@%h", "--without-gossip", "--without-mingle", "-l", "WARNING"], env,
                out / f"load-worker{i}.log") for i in range(2)),
    ]
    try:
        time.sleep(4)
        stop_at = time.monotonic() + args.seconds
        lat = {"next": [], "submit": []}
        errors: list[str] = []
        acknowledged: list[int] = []
        lock = threading.Lock()

        def rater_loop(token: str, seed: int) -> None:
            rng = random.Random(seed)
            rater = Rater(port, token, info["project"])
            while time.monotonic() < stop_at:
                try:
                    ms, status, data = rater.call(f"/api/projects/{info['project']}/next/")
                    if status == 204:
                        return
                    if status != 200:
                        with lock:
                            errors.append(f"next {status}")
                        continue
                    assignment = json.loads(data)["id"]
                    time.sleep(rng.expovariate(1 / args.think))
                    ms2, status2, data2 = rater.call(f"/api/assignments/{assignment}/submit/",
                                                     {"scores": SCORES, "duration_ms": 1000})
                except Exception as exc:  # a load test records failures, it does not stop on them
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    lat["next"].append(ms)
                    if status2 in (200, 201):
                        lat["submit"].append(ms2)
                        acknowledged.append(json.loads(data2)["id"])
                    else:
                        errors.append(f"submit {status2} {data2[:120]!r}")

        def lead_loop() -> None:
            lead = Rater(port, lead_token, info["project"])
            while time.monotonic() < stop_at:
                status = lead.call(f"/api/projects/{info['project']}/reports/", {"bootstrap": 1000})[1]
                if status != 202:
                    with lock:
                        errors.append(f"report request {status}")
                time.sleep(30)

        threads = [threading.Thread(target=rater_loop, args=(tok, i)) for i, tok in enumerate(info["tokens"])]
        threads.append(threading.Thread(target=lead_loop))
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        time.sleep(15)  # let the last debounced refresh run
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)

    check = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", INVARIANTS.replace("ACKNOWLEDGED", json.dumps(acknowledged))],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )
    db = json.loads(check.stdout.strip().splitlines()[-1])
    summary = {
        "raters": args.raters, "seconds": round(elapsed), "items": args.items,
        "ratings": len(lat["submit"]), "ratings_per_s": round(len(lat["submit"]) / elapsed, 1),
        **{f"claim_p{q}": round(percentile(lat["next"], q), 1) for q in (50, 95, 99)},
        **{f"submit_p{q}": round(percentile(lat["submit"], q), 1) for q in (50, 95, 99)},
        "errors": len(errors), "first_errors": errors[:5], **db,
    }
    print(json.dumps(summary, indent=2))
    (out / "load_test.json").write_text(json.dumps(summary, indent=2))
    ok = db["tasks_over_overlap"] == 0 and db["duplicate_task_rater"] == 0 and db["acknowledged_missing"] == 0
    print("invariants hold" if ok else "INVARIANT VIOLATED")
    sys.exit(0 if ok else 1)


INVARIANTS = """
import json
from django.db.models import Count, F
from evalplatform.projects.models import Task
from evalplatform.ratings.models import Rating
from evalplatform.reports.models import AgreementReport
acked = set(json.loads('ACKNOWLEDGED'))
over = Task.objects.filter(rated_count__gt=F('capacity')).count()
over_claims = Task.objects.filter(claimed_count__gt=F('capacity')).count()
per_task = Rating.objects.values('task').annotate(n=Count('id')).filter(n__gt=3).count()
dupes = Rating.objects.values('task', 'rater').annotate(n=Count('id')).filter(n__gt=1).count()
present = set(Rating.objects.filter(pk__in=acked).values_list('pk', flat=True))
reports = dict(AgreementReport.objects.values_list('status').annotate(n=Count('id')))
print(json.dumps({'tasks_over_overlap': over + over_claims + per_task, 'duplicate_task_rater': dupes,
                  'acknowledged': len(acked), 'acknowledged_missing': len(acked - present),
                  'ratings_in_db': Rating.objects.count(), 'reports': reports}))
"""


if __name__ == "__main__":
    main()
