"""Benchmark: a generation run and a judge run against the fake OpenAI-compatible server, in-process.

Builds a fresh SQLite database, imports ``--items`` items, registers two endpoints with the given rate
and concurrency limits, starts the fake server with ``--delay`` seconds of latency per answer, and
runs ``process_run`` in ``--workers`` threads (as that many Celery tasks would).  Prints per run the
wall time, calls per second, and per endpoint the most requests started in any 1 s window (the limit
allows rate/60 + 1) and the most in flight at once (the limit allows the concurrency).

    .venv/bin/python bench/bench_llm_runs.py                      # 300 items, 2 endpoints
    .venv/bin/python bench/bench_llm_runs.py --items 1000 --rpm 12000 --concurrency 8 --delay 0.1
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--rpm", type=int, default=3000, help="requests per minute of each endpoint")
    parser.add_argument("--concurrency", type=int, default=4, help="calls in flight per endpoint")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the fake server takes per answer")
    parser.add_argument("--workers", type=int, default=8, help="threads running process_run")
    args = parser.parse_args()

    var = tempfile.mkdtemp(prefix="bench-llm-")
    os.environ.update({"EVAL_VAR_DIR": var, "SQLITE_PATH": os.path.join(var, "db.sqlite3"),
                       "DJANGO_SETTINGS_MODULE": "evalplatform.settings", "EVAL_TASK_RUNNER": "thread",
                       "EVAL_REPORT_REFRESH_DELAY": "3600", "LOG_LEVEL": "WARNING"})
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from evalplatform.llm import services
    from evalplatform.llm.fake_server import FakeLLMServer
    from evalplatform.llm.selectors import progress_of
    from evalplatform.projects.services import create_project, import_items
    from rubrics.services import import_rubric

    services._enqueue_after_commit = lambda run_id: None  # the threads below are the workers
    import yaml

    version, _ = import_rubric(data=yaml.safe_load((ROOT / "evalplatform/demo/support-quality.yaml").read_text()))
    project = create_project(slug="bench", name="Bench", rubric_version=version)
    lines = [json.dumps({"id": f"b-{i:05d}", "prompt": f"Ticket {i}: my order {i} has not arrived",
                         "responses": [{"model": "human", "text": f"We are sorry about order {i}."}]})
             for i in range(args.items)]
    import_items(project=project, stream=io.BytesIO("\n".join(lines).encode()), fmt="jsonl")
    server = FakeLLMServer().start()
    server.control.delay = args.delay
    endpoints = [services.create_endpoint(name=name, base_url=server.base_url, model=f"fake-{name}",
                                          requests_per_minute=args.rpm, max_concurrency=args.concurrency)
                 for name in ("alpha", "beta")]
    print(f"{args.items} items, 2 endpoints at {args.rpm}/min and {args.concurrency} at once, "
          f"{args.delay * 1000:.0f} ms per answer, {args.workers} worker threads (SQLite)")
    for kind in ("generation", "judge"):
        server.control.records.clear()
        server.control.max_in_flight.clear()
        start = services.start_generation if kind == "generation" else services.start_judge
        run = start(project=project, endpoints=endpoints)
        t0 = time.perf_counter()
        threads = [threading.Thread(target=services.process_run, kwargs={"run_id": run.pk}) for _ in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        p = progress_of([run])[run.pk]
        print(f"\n{kind}: {p['total']} calls in {wall:.1f} s ({p['total'] / wall:.1f} calls/s); "
              f"{p['done']} done, {p['invalid']} invalid, {p['failed']} failed; "
              f"tokens {p['prompt_tokens']} in / {p['completion_tokens']} out")
        ideal = p["total"] / 2 / min(args.rpm / 60, args.concurrency / args.delay) if args.delay else 0
        print(f"  the limits alone allow it in {ideal:.1f} s")
        for endpoint in endpoints:
            starts = [r.started for r in server.control.records if r.model == endpoint.model]
            print(f"  {endpoint.name}: {len(starts)} requests, at most {max_in_window(starts, 1.0)} started in any 1 s "
                  f"(limit {args.rpm / 60:.0f} + 1), at most {server.control.max_in_flight.get(endpoint.model, 0)} "
                  f"in flight (limit {args.concurrency})")
    server.stop()


if __name__ == "__main__":
    main()
