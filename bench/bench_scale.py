"""Benchmark: imports, the report, exports and ``agreement`` at a real evaluation team's size.

The data set of issue 18: 20,000 support tickets x 3 model responses, overlap 3, a panel of 12
raters, the demo's rubric (three 1-5 dimensions and a yes/no check): 60,000 tasks, 180,000 ratings,
720,000 scores; plus 100,000 single-response items, and a many-raters file (1,000 raters x 30 items,
70% filled).  Every figure is a whole ``manage.py`` process as a user runs it, timed from outside
with its peak resident memory (``/usr/bin/time``'s maximum RSS); the report also prints its own
computation time (``computed_in_seconds``, without start-up and saving) and each section's.

    .venv/bin/python bench/bench_scale.py                          # SQLite and PostgreSQL, full size
    .venv/bin/python bench/bench_scale.py --db sqlite --scale 0.1  # a tenth of the data, quick

``--steps`` picks steps (items, items1, ratings, report, worker, export, agreement, many; and million,
only when named: ``import_items`` of 1,000,000 single-response items, run last, whose peak memory is
held to issue 18's 300 MB).  ``worker`` is the report as a lead gets it: computed by a real Celery worker
(Redis at ``--redis-url``) started for the step, from the request to the stored result, twice.  PostgreSQL: a
database ``--pg-db`` (default ``bench_scale``) on ``--pg-url``'s server is dropped and created for the run.  Files and
the SQLite database go to ``bench/out/scale`` (kept for a look afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "scale"
RUBRIC = ROOT / "evalplatform" / "demo" / "support-quality.yaml"
MODELS = ("helpbot-large", "helpbot-small", "open-llm-8b")
QUALITY = np.array([4.4, 3.4, 2.6])
DIMENSIONS = ("accuracy", "helpfulness", "tone", "harmless")
TOPICS = ("billing", "login", "shipping", "refunds", "api", "other")
STEPS = ("items", "items1", "ratings", "report", "worker", "export", "agreement", "many", "million")
#: Run only when asked for (``--steps million``): a 1,000,000-item file (about 390 MB) takes a minute per database.
OPTIONAL = ("million",)
#: Issue 18's ceiling for a million-item import's peak memory (flat in the file's size).
MILLION_MB = 300


# --- data -----------------------------------------------------------------------------------------


def write_items(path: Path, n: int, models: tuple[str, ...], prefix: str = "ticket") -> None:
    rng = np.random.default_rng(1)
    topics = rng.integers(0, len(TOPICS), n)
    langs = rng.integers(0, 3, n)
    with path.open("w") as fh:
        for i in range(n):
            responses = ", ".join(
                f'{{"model": "{m}", "text": "Thanks for writing in about ticket {i}. Here is what {m} suggests: '
                f'restart, then check the settings page and reply if it persists."}}'
                for m in models
            )
            fh.write(
                f'{{"id": "{prefix}-{i:06d}", "prompt": "Customer ticket {i}: my {TOPICS[topics[i]]} problem is '
                f'still not solved after two days, what should I do?", "reference": "Apologise and give steps.", '
                f'"metadata": {{"topic": "{TOPICS[topics[i]]}", "language": "{("en", "de", "fr")[langs[i]]}"}}, '
                f'"responses": [{responses}]}}\n'
            )


def write_ratings(path: Path, n_items: int, n_raters: int, overlap: int) -> int:
    """Long CSV, one score a row: each (ticket, model) task rated by ``overlap`` of the raters."""
    rng = np.random.default_rng(2)
    n_tasks = n_items * len(MODELS)
    item = np.repeat(np.arange(n_items), len(MODELS))
    model = np.tile(np.arange(len(MODELS)), n_items)
    # overlap distinct raters per task: a random rotation of the panel
    start = rng.integers(0, n_raters, n_tasks)
    raters = (start[:, None] + np.arange(overlap)[None, :]) % n_raters  # tasks x overlap
    leniency = rng.normal(0, 0.35, n_raters)
    ticket = rng.normal(0, 0.5, n_items)
    true = QUALITY[model] + ticket[item]  # per task
    values = []
    for d, dim in enumerate(DIMENSIONS):
        latent = true[:, None] + leniency[raters] + rng.normal(0, 0.7, (n_tasks, overlap)) + 0.2 * d
        values.append((latent > 2.5).astype(int) if dim == "harmless" else np.clip(np.rint(latent), 1, 5).astype(int))
    durations = rng.integers(8_000, 120_000, (n_tasks, overlap))
    rows = 0
    with path.open("w") as fh:
        fh.write("item_id,model,rater,dimension,value,duration_ms\n")
        for start in range(0, n_tasks, 5000):  # one rating's four rows together, as tools export them
            lines = [
                f"ticket-{item[t]:06d},{MODELS[model[t]]},rater{raters[t, k]:02d},{dim},{values[d][t, k]},"
                f"{durations[t, k] if d == 0 else ''}\n"
                for t in range(start, min(start + 5000, n_tasks)) for k in range(overlap)
                for d, dim in enumerate(DIMENSIONS)
            ]
            fh.writelines(lines)
            rows += len(lines)
    return rows


def write_many_raters(path: Path, n_raters: int = 1000, n_items: int = 30, filled: float = 0.7) -> int:
    rng = np.random.default_rng(3)
    quality = rng.normal(3, 1, n_items)
    rows = 0
    with path.open("w") as fh:
        fh.write("item_id,rater,dimension,value\n")
        for r in range(n_raters):
            for i in range(n_items):
                if rng.random() < filled:
                    v = int(np.clip(np.rint(quality[i] + rng.normal(0, 0.8)), 1, 5))
                    fh.write(f"item{i},r{r:04d},quality,{v}\n")
                    rows += 1
    return rows


# --- running --------------------------------------------------------------------------------------


CPU: dict[str, float] = {}


def run(env: dict, *args: str) -> tuple[float, float, str]:
    """One whole ``manage.py`` process: (wall seconds, peak RSS in MB, stdout).  Its CPU seconds (user +
    system, steadier than the wall clock on a shared machine) go to ``CPU["last"]``."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%U %S %M", sys.executable, "manage.py", *args], env=env, cwd=ROOT,
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-4000:], sep="\n")
        raise SystemExit(f"manage.py {' '.join(args)} failed ({proc.returncode})")
    user, system, peak_kb = (float(x) for x in proc.stderr.strip().splitlines()[-1].split())
    CPU["last"] = user + system
    return wall, peak_kb / 1024, proc.stdout


def prepare(backend: str, pg_url: str, pg_db: str = "bench_scale") -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "evalplatform.settings", "EVAL_REPORT_REFRESH_DELAY": "3600",
           "EVAL_TASK_RUNNER": "thread", "EVAL_VAR_DIR": str(OUT / "var"), "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    if backend == "sqlite":
        path = OUT / "scale.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(path)
    else:
        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_db}"')
            conn.execute(f'CREATE DATABASE "{pg_db}"')
        env["DATABASE_URL"] = pg_url.rsplit("/", 1)[0] + "/" + pg_db
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    run(env, "import_rubric", str(RUBRIC))
    run(env, "create_project", "scale", "--rubric", "support-quality", "--overlap", "3")
    run(env, "create_project", "single", "--rubric", "support-quality", "--overlap", "3")
    return env


def line(name: str, wall: float, mb: float, extra: str = "") -> None:
    print(f"  {name:<44} {wall:7.2f} s ({CPU.get('last', 0):6.2f} s CPU) {mb:7.0f} MB  {extra}", flush=True)


def bench(backend: str, args, files: dict[str, Path]) -> None:
    print(f"{backend}:", flush=True)
    env = prepare(backend, args.pg_url, args.pg_db)
    n_items, n_single = files["n_items"], files["n_single"]
    steps = set(args.steps)
    if steps & {"items", "ratings", "report", "worker", "export"}:
        wall, mb, _ = run(env, "import_items", str(files["items"]), "--project", "scale")
        line(f"import_items {n_items:,} x 3 responses", wall, mb, f"{n_items / wall:,.0f} items/s")
    if "items1" in steps:
        wall, mb, _ = run(env, "import_items", str(files["items1"]), "--project", "single")
        line(f"import_items {n_single:,} x 1 response", wall, mb, f"{n_single / wall:,.0f} items/s")
    if steps & {"ratings", "report", "worker", "export"}:
        wall, mb, _ = run(env, "import_ratings", str(files["ratings"]), "--project", "scale", "--create-raters")
        line(f"import_ratings {files['n_scores']:,} scores", wall, mb, f"{files['n_scores'] / wall:,.0f} scores/s")
    if steps & {"report", "worker"}:
        # What a worker does once after the import (embedded mode has none): ROUGE/BLEU/chrF of every response
        # against its reference, stored, so the report reads them rather than scoring 60,000 texts itself.
        wall, mb, _ = run(env, "score_references", "--project", "scale")
        line("score_references (one process)", wall, mb, f"{3 * n_items / wall:,.0f} responses/s")
    if "report" in steps:
        # The first report stores every consensus label; the second (a refresh with the same ratings, as
        # most are) finds them stored.
        for name in ("report (defaults), first", "report again (labels unchanged)"):
            wall, mb, out = run(env, "report", "--project", "scale")
            result = json.loads(out)
            timings = result["timings"]
            slow = sorted(((v, k) for k, v in timings.items() if v >= 0.01), reverse=True)
            line(name, wall, mb, f"computed in {result['computed_in_seconds']:.2f} s")
            print("      sections (wall s): " + ", ".join(f"{k} {v:.2f}" for v, k in slow), flush=True)
    if "worker" in steps:
        worker_reports(env, args.redis_url)
    if "export" in steps:
        target = OUT / "export.csv"
        wall, mb, _ = run(env, "export", "--project", "scale", "--format", "csv", "--output", str(target))
        rows = sum(1 for _ in target.open()) - 1
        line(f"export --format csv {rows:,} rows", wall, mb)
    if "million" in steps:  # last: the other steps' figures are not taken on a database holding it
        run(env, "create_project", "million", "--rubric", "support-quality", "--overlap", "3")
        wall, mb, _ = run(env, "import_items", str(files["million"]), "--project", "million")
        line("import_items 1,000,000 x 1 response", wall, mb,
             f"{1_000_000 / wall:,.0f} items/s; peak {'within' if mb <= MILLION_MB else 'OVER'} {MILLION_MB} MB")


#: Run in a fresh process beside the worker: ask for a report as the report page does, wait for it.
REQUEST = """
import json, time, django
django.setup()
from evalplatform.projects.models import Project
from evalplatform.reports.models import AgreementReport
from evalplatform.reports.services import request_report
started = time.perf_counter()
report = request_report(project=Project.objects.get(slug="scale"))  # enqueued at once (no transaction)
while True:
    time.sleep(0.05)
    done = AgreementReport.objects.filter(pk=report.pk).values("status", "result__computed_in_seconds").get()
    if done["status"] in ("done", "failed"):
        break
print(json.dumps({"status": done["status"], "wall": time.perf_counter() - started,
                  "computed": done["result__computed_in_seconds"]}))
"""


def worker_reports(env: dict, redis_url: str) -> None:
    """Two reports computed by one real worker (prefork, one pool process) started for the step: the
    time from the request to the stored result, the computation, and the pool process's peak memory."""
    import uuid

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    wenv = {**env, "REDIS_URL": redis_url, "EVAL_TASK_RUNNER": "celery", "CELERY_QUEUE": queue}
    log = OUT / "worker.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "evalplatform.celery_app", "worker", "-Q", queue, "-P", "prefork",
             "-c", "1", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=ROOT, env=wenv, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while b"ready." not in log.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the worker did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.2)
            child = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0]
            for name in ("report by a worker, first after its start", "report by the same worker again"):
                out = subprocess.run([sys.executable, "-c", REQUEST], env=wenv, cwd=ROOT, capture_output=True,
                                     text=True, check=True).stdout
                got = json.loads(out)
                peak = next(int(line.split()[1]) for line in Path(f"/proc/{child}/status").read_text().splitlines()
                            if line.startswith("VmHWM"))
                CPU["last"] = 0.0
                print(f"  {name:<44} {got['wall']:7.2f} s (request to stored) {peak / 1024:7.0f} MB  "
                      f"computed in {got['computed']:.2f} s{'' if got['status'] == 'done' else ' FAILED'}", flush=True)
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's data set (default 1)")
    ap.add_argument("--steps", nargs="+", choices=STEPS, default=[s for s in STEPS if s not in OPTIONAL])
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
                    help="the broker of the worker step's worker")
    ap.add_argument("--pg-db", default="bench_scale", help="the database the run drops and creates (one per person "
                    "benchmarking on a shared server)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    n_items, n_single = max(1, int(20_000 * args.scale)), max(1, int(100_000 * args.scale))
    files: dict = {"n_items": n_items, "n_single": n_single}
    t0 = time.perf_counter()
    files["items"] = OUT / "items3.jsonl"
    write_items(files["items"], n_items, MODELS)
    files["items1"] = OUT / "items1.jsonl"
    write_items(files["items1"], n_single, MODELS[:1], prefix="single")
    if "million" in args.steps:
        files["million"] = OUT / "items-million.jsonl"
        write_items(files["million"], 1_000_000, MODELS[:1], prefix="mil")
    files["ratings"] = OUT / "ratings.csv"
    files["n_scores"] = write_ratings(files["ratings"], n_items, 12, 3)
    print(f"data: {n_items:,} tickets x 3 responses, {files['n_scores']:,} scores by 12 raters (overlap 3); "
          f"{n_single:,} single-response items; written in {time.perf_counter() - t0:.1f} s; "
          f"{os.cpu_count()} CPUs", flush=True)
    backends = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    for backend in backends:
        bench(backend, args, files)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "evalplatform.settings", "EVAL_VAR_DIR": str(OUT / "var")}
    env.pop("DATABASE_URL", None)
    if "agreement" in args.steps:
        wall, mb, _ = run(env, "agreement", str(files["ratings"]))
        line(f"agreement on the ratings file ({files['n_scores']:,} rows)", wall, mb)
    if "many" in args.steps:
        many = OUT / "many-raters.csv"
        n = write_many_raters(many)
        try:
            wall, mb, out = run(env, "agreement", str(many))
            line(f"agreement 1,000 raters x 30 items ({n:,} rows)", wall, mb, f"{len(out):,} bytes of output")
        except SystemExit as exc:
            print(f"  agreement 1,000 raters x 30 items: {exc}")


if __name__ == "__main__":
    main()
