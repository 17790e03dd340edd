"""Start-up of every management command (``manage.py X --help``) and of the engine's entry point.

Run: ``.venv/bin/python bench/bench_startup.py [--repeat 5]``.  Whole processes, as a user waits for
them; prints the best and the median of the runs per command.  Goals: every command's ``--help``
<= 0.6 s, ``python -m evalplatform.stats --help`` <= 0.5 s.  Not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands() -> list[str]:
    """Our apps' management commands (Django's own are not ours to speed up)."""
    names = []
    for folder in sorted([*ROOT.glob("evalplatform/*/management/commands"), *ROOT.glob("rubrics/management/commands")]):
        names += [p.stem for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")]
    return names


def timed(command: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system: steadier than the wall clock on a shared machine) of
    each run."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "evalplatform.settings"}
    runs, cpu = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
        runs.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return runs, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = [("python -c pass (the interpreter alone)", [sys.executable, "-c", "pass"], None),
            ("python -m evalplatform.stats --help", [sys.executable, "-m", "evalplatform.stats", "--help"], 0.5)]
    rows += [(f"manage.py {name} --help", [sys.executable, "manage.py", name, "--help"], 0.6) for name in commands()]
    print(f"best and median of {args.repeat} runs, whole processes; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    for title, command, goal in rows:
        runs, cpu = timed(command, args.repeat)
        verdict = "" if goal is None else ("  ok" if min(runs) <= goal else f"  over the {goal} s goal")
        print(f"  {title:<45} best {min(runs):5.2f} s  median {statistics.median(runs):5.2f} s  "
              f"(CPU best {min(cpu):4.2f} s){verdict}")


if __name__ == "__main__":
    main()
