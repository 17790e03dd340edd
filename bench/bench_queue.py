"""Benchmark: next-item and submit latency through the HTTP API, with a real server.

For each database (SQLite file, PostgreSQL) and project size (10,000 and 100,000 items, overlap 3),
it builds a fresh database, starts gunicorn with production settings (``DEBUG=0``, no TLS), and has
raters call ``POST /api/projects/{id}/next/`` then ``POST /api/assignments/{id}/submit/`` in a loop:
one rater alone, then 20 raters at once
(each a thread with its own keep-alive connection) with no pause at all (a stress test: the server's
throughput), then one rater and 20 raters who think ~2 s between reading an item and submitting (as
people do).
It prints p50/p95/p99 per call and the 100k/10k ratio of next-item p50 (goal: p50 <= 15 ms,
p95 <= 40 ms, 100k within 1.3x of 10k).

    .venv/bin/python bench/bench_queue.py                      # everything (several minutes)
    .venv/bin/python bench/bench_queue.py --backends sqlite --sizes 10000 --iterations 100

Report refreshes are pushed out of the measured window (EVAL_REPORT_REFRESH_DELAY=3600) so the
figures are the queue's own; on PostgreSQL ``--pg-url`` names the server (a database per run is
created and dropped).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SCORES = {"accuracy": 4, "helpfulness": 3, "tone": 5, "harmless": 1}
# The server runs as in production (DEBUG off: no query log, no static-file rescans), minus TLS.
PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "bench-only-" + "k" * 50, "ALLOWED_HOSTS": "127.0.0.1",
              "SECURE_SSL_REDIRECT": "0"}


# --- set-up (runs in a child process with the target database's environment) -------------------


def setup(items: int, raters: int) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")
    django.setup()
    import io

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from evalplatform.demo.loader import HERE
    from evalplatform.projects.models import Membership
    from evalplatform.projects.services import add_member, create_project, import_items
    from rubrics.documents import parse_text
    from rubrics.services import import_rubric

    call_command("migrate", verbosity=0)
    version, _ = import_rubric(data=parse_text((HERE / "support-quality.yaml").read_text(), filename="r.yaml"))
    project = create_project(slug="bench", rubric_version=version, overlap=3)
    lines = (
        json.dumps({"id": f"i-{i:06d}", "prompt": f"Prompt {i} " + "lorem ipsum " * 20,
                    "responses": [{"model": "m1", "text": f"Answer {i} " + "dolor sit amet " * 30}],
                    "metadata": {"topic": ["billing", "tech", "account"][i % 3]}})
        for i in range(items)
    )
    import_items(project=project, stream=io.BytesIO(("\n".join(lines) + "\n").encode()), fmt="jsonl")
    User = get_user_model()
    tokens = []
    for r in range(raters):
        user = User.objects.create_user(username=f"rater{r}", password="bench-password-1")
        add_member(project=project, user=user, role=Membership.Role.RATER)
        tokens.append(Token.objects.create(user=user).key)
    return {"project": project.pk, "tokens": tokens}


# --- the measured client -----------------------------------------------------------------------


class Rater:
    def __init__(self, port: int, token: str, project: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.project = project

    def call(self, path: str, body: dict | None = None) -> tuple[float, int, bytes]:
        payload = json.dumps(body or {})
        for attempt in range(2):
            start = time.perf_counter()
            try:
                self.conn.request("POST", path, body=payload, headers=self.headers)
                response = self.conn.getresponse()
                data = response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The server closed an idle keep-alive connection: reconnect (not a failed call).
                self.conn.close()
                if attempt:
                    raise
                continue
            return (time.perf_counter() - start) * 1000, response.status, data
        raise AssertionError("unreachable")

    def run(self, iterations: int, out: dict[str, list[float]], errors: list[str], think: float = 0.0) -> None:
        rng = random.Random(id(self))
        if think:
            # People do not all open the page in the same millisecond: without this pause the first
            # calls of all 20 threads arrive as one burst and make up the whole 95th percentile.
            time.sleep(rng.uniform(0, 2 * think))
        for _ in range(iterations):
            ms, status, data = self.call(f"/api/projects/{self.project}/next/")
            if status == 204:
                break
            if status != 200:
                errors.append(f"next {status} {data[:200]!r}")
                continue
            out["next"].append(ms)
            assignment = json.loads(data)["id"]
            if think:
                time.sleep(rng.expovariate(1 / think))  # reading and scoring the item
            ms, status, data = self.call(f"/api/assignments/{assignment}/submit/",
                                         {"scores": SCORES, "duration_ms": 1000})
            if status != 201:
                errors.append(f"submit {status} {data[:200]!r}")
                continue
            out["submit"].append(ms)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def measure(port: int, tokens: list[str], project: int, n_raters: int, iterations: int, warmup: int,
            think: float = 0.0) -> dict:
    # Warm each connection and the server's caches first; those calls are not counted.
    per_thread = [{"next": [], "submit": []} for _ in range(n_raters)]
    errors: list[str] = []
    raters = [Rater(port, tokens[i], project) for i in range(n_raters)]
    for rater in raters:
        rater.run(warmup, {"next": [], "submit": []}, errors)
    threads = [threading.Thread(target=r.run, args=(iterations, per_thread[i], errors, think))
               for i, r in enumerate(raters)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    merged = {k: [v for d in per_thread for v in d[k]] for k in ("next", "submit")}
    return {
        "raters": n_raters,
        "think_s": think,
        "ratings_per_s": round(len(merged["submit"]) / elapsed, 1),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        **{f"{k}_p{q}": round(percentile(v, q), 2) for k, v in merged.items() for q in (50, 95, 99)},
        "n": len(merged["next"]),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_config(backend: str, items: int, args) -> list[dict]:
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **PRODUCTION, "DJANGO_SETTINGS_MODULE": "evalplatform.settings",
           "EVAL_REPORT_REFRESH_DELAY": "3600", "EVAL_TASK_RUNNER": "thread", "EVAL_VAR_DIR": str(OUT / "var"),
           "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    if backend == "sqlite":
        path = OUT / f"queue-{items}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(path)
    else:
        import psycopg

        name = f"bench_queue_{items}"
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        env["DATABASE_URL"] = args.pg_url.rsplit("/", 1)[0] + "/" + name
    t0 = time.perf_counter()
    raw = subprocess.run([sys.executable, __file__, "setup", "--items", str(items), "--raters", str(args.raters)],
                         env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    info = json.loads(raw.strip().splitlines()[-1])
    print(f"  set up {backend} with {items:,} items in {time.perf_counter() - t0:.1f}s", flush=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "evalplatform.wsgi", "-b", f"127.0.0.1:{port}", "-k", "gthread",
         "-w", str(args.web_workers), "--threads", "8", "--log-level", "warning"],
        env=env, cwd=ROOT,
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        results = []
        runs = [(1, args.iterations, 0.0), (args.raters, args.iterations, 0.0)]
        if args.think:
            # One rater who thinks too: the baseline that shows what the pauses alone cost (an idle
            # machine answers a little slower than a busy one) apart from what 20 at once cost.
            runs += [(1, args.think_iterations, args.think), (args.raters, args.think_iterations, args.think)]
        for n, iterations, think in runs:
            row = measure(port, info["tokens"], info["project"], n, iterations, args.warmup, think)
            results.append({"backend": backend, "items": items, **row})
            print("  " + json.dumps(results[-1]), flush=True)
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "setup"])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--raters", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=100, help="next+submit pairs per rater")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--think", type=float, default=2.0,
                        help="also run the raters as people: a mean think time (s) between next and submit; 0 = skip")
    parser.add_argument("--think-iterations", type=int, default=40)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    if args.mode == "setup":
        print(json.dumps(setup(args.items, args.raters)))
        return
    results = []
    for backend in args.backends.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"{backend}, {size:,} items:", flush=True)
            results.extend(run_config(backend, size, args))
    print("\nbackend   items    raters think  next p50/p95/p99 ms     submit p50/p95/p99 ms   ratings/s  errors")
    for r in results:
        print(f"{r['backend']:<9} {r['items']:>7,} {r['raters']:>6} {r['think_s']:>5}  "
              f"{r['next_p50']:>6} {r['next_p95']:>6} {r['next_p99']:>6}   "
              f"{r['submit_p50']:>6} {r['submit_p95']:>6} {r['submit_p99']:>6}   {r['ratings_per_s']:>8} {r['errors']:>6}")
    for backend in args.backends.split(","):
        for n, think in ((1, 0.0), (args.raters, 0.0), (1, args.think), (args.raters, args.think)):
            rows = {r["items"]: r for r in results
                    if r["backend"] == backend and r["raters"] == n and r["think_s"] == think}
            if 10000 in rows and 100000 in rows:
                ratio = rows[100000]["next_p50"] / rows[10000]["next_p50"]
                print(f"{backend}, {n} rater(s), think {think} s: next-item p50 at 100k / at 10k = {ratio:.2f} "
                      "(goal <= 1.3)")
    (OUT / "bench_queue.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
