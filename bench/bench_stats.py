"""Benchmark of the statistics engine against the ``krippendorff`` package and a pandas pipeline.

Run: ``.venv/bin/python bench/bench_stats.py [--units 100000] [--raters 5] [--repeat 5]``.
Prints figures; it is not a test.  Data: 100,000 units x 5 raters on a 5-point ordinal scale with 20%
of the ratings missing (a latent item quality plus rater leniency plus noise, rounded to the scale).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import krippendorff  # noqa: E402
import pandas as pd  # noqa: E402

from evalplatform.stats.agreement import krippendorff_alpha  # noqa: E402
from evalplatform.stats.readers import read_ratings  # noqa: E402
from evalplatform.stats.summary import summarize  # noqa: E402

SCALE = [1.0, 2.0, 3.0, 4.0, 5.0]


def make_data(n_units: int, n_raters: int, missing: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    quality = rng.normal(3.0, 1.0, n_units)
    leniency = rng.normal(0.0, 0.3, n_raters)
    noise = rng.normal(0.0, 0.7, (n_raters, n_units))
    data = np.clip(np.rint(quality[None, :] + leniency[:, None] + noise), 1, 5)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def write_long_csv(data: np.ndarray, path: Path) -> int:
    """One row per (rater, unit) cell, an empty value for a missing rating; three models."""
    n_raters, n_units = data.shape
    r, u = np.meshgrid(np.arange(n_raters), np.arange(n_units), indexing="ij")
    r, u = r.ravel(), u.ravel()
    vals = data.ravel()
    text = np.where(np.isnan(vals), "", np.nan_to_num(vals).astype(int).astype(str))
    with path.open("w") as fh:
        fh.write("item_id,rater,dimension,value,model\n")
        fh.writelines(
            f"item{uu // 3},rater{rr},helpfulness,{v},model{uu % 3}\n" for rr, uu, v in zip(r, u, text, strict=True)
        )
    return int(r.size)


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--raters", type=int, default=5)
    ap.add_argument("--missing", type=float, default=0.2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    data = make_data(args.units, args.raters, args.missing)
    print(f"data: {args.units:,} units x {args.raters} raters, 5-point ordinal, "
          f"{np.isnan(data).mean():.0%} missing; best of {args.repeat} runs; {os.cpu_count()} CPUs")

    # 1. alpha vs the krippendorff package
    t_pkg, a_pkg = best(lambda: krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal",
                                                   value_domain=SCALE), args.repeat)
    t_ours, a_ours = best(lambda: krippendorff_alpha(data, "ordinal", value_domain=SCALE), args.repeat)
    assert abs(a_ours.value - a_pkg) < 1e-9, (a_ours.value, a_pkg)
    print(f"\n1. Krippendorff's alpha (ordinal), value {a_ours.value:.6f} (package {a_pkg:.6f})")
    print(f"   krippendorff.alpha:      {t_pkg * 1e3:8.1f} ms")
    print(f"   ours:                    {t_ours * 1e3:8.1f} ms   ratio ours/package = {t_ours / t_pkg:.2f} "
          f"(goal <= 1.0)")

    # 2. alpha + 1,000-resample bootstrap interval
    t_boot, a_boot = best(lambda: krippendorff_alpha(data, "ordinal", value_domain=SCALE, bootstrap=1000, seed=0),
                          args.repeat)
    print(f"\n2. alpha + 1,000-resample bootstrap: {t_boot * 1e3:8.1f} ms, ci95 = "
          f"[{a_boot.ci95[0]:.4f}, {a_boot.ci95[1]:.4f}]")
    print(f"   ratio to one alpha = {t_boot / t_ours:.2f} (goal <= 5)")

    # 3. the agreement command on a long CSV vs pandas + pivot + krippendorff.alpha
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ratings.csv"
        n_rows = write_long_csv(data, path)

        def pandas_pipeline(pivot_table: bool = False) -> float:
            df = pd.read_csv(path)
            if pivot_table:
                wide = df.pivot_table(index="rater", columns=["item_id", "model"], values="value")
            else:
                wide = df.pivot(index="rater", columns=["item_id", "model"], values="value")
            return float(krippendorff.alpha(reliability_data=wide.to_numpy(dtype=float),
                                             level_of_measurement="ordinal", value_domain=SCALE))

        t_pd, a_pd = best(pandas_pipeline, args.repeat)
        t_pdt, _ = best(lambda: pandas_pipeline(pivot_table=True), args.repeat)
        t_csv, _ = best(lambda: pd.read_csv(path), args.repeat)
        command, how = command_runner(path)
        t_cmd, _ = best(command, args.repeat)
        t_read, long = best(lambda: read_ratings(path), args.repeat)
        t_sum0, _ = best(lambda: summarize(long, bootstrap=0, seed=0), args.repeat)
        t_sum, report = best(lambda: summarize(long, bootstrap=1000, seed=0), args.repeat)
        dim = report["dimensions"][0]
        assert abs(dim["krippendorff_alpha"]["value"] - a_pd) < 1e-9
        print(f"\n3. long CSV of {n_rows:,} rows ({path.stat().st_size / 1e6:.1f} MB), 3 models")
        print(f"   pandas.read_csv + pivot + krippendorff.alpha (no interval):       {t_pd * 1e3:8.1f} ms"
              f"   (read_csv alone {t_csv * 1e3:.1f} ms)")
        print(f"   pandas.read_csv + pivot_table + krippendorff.alpha (no interval): {t_pdt * 1e3:8.1f} ms")
        print(f"   agreement command ({how}), all coefficients + intervals: {t_cmd * 1e3:8.1f} ms")
        print(f"     ratio to the pivot pipeline = {t_cmd / t_pd:.2f}, to the pivot_table pipeline = "
              f"{t_cmd / t_pdt:.2f} (goal <= 1.5)")
        print(f"     parts: read_ratings {t_read * 1e3:.1f} ms; summarize without intervals {t_sum0 * 1e3:.1f} ms; "
              f"summarize with 1,000 resamples {t_sum * 1e3:.1f} ms")

        # 4. the same, as whole processes (start-up included): what a user waits for at the shell
        whole = {
            "pandas.read_csv + pivot + krippendorff.alpha": [sys.executable, "-c", PANDAS_PROCESS, str(path)],
            "python -m evalplatform.stats (json, 1,000 resamples)": [
                sys.executable, "-m", "evalplatform.stats", str(path)],
            "manage.py agreement (json, 1,000 resamples)": [
                sys.executable, str(ROOT / "manage.py"), "agreement", str(path)],
        }
        times = {name: best(lambda cmd=cmd: run_process(cmd), args.repeat)[0] for name, cmd in whole.items()}
        print(f"\n4. whole processes on the same file (best of {args.repeat}, start-up included)")
        for name, t in times.items():
            print(f"   {name:<55} {t * 1e3:8.1f} ms")
        base = times["pandas.read_csv + pivot + krippendorff.alpha"]
        for name in list(whole)[1:]:
            print(f"   ratio {name.split(' (')[0]} / pandas pipeline = {times[name] / base:.2f} (goal <= 1.5)")


#: The reference pipeline as its own process: what a pandas user would run on the file.
PANDAS_PROCESS = """
import sys
import krippendorff
import pandas as pd
df = pd.read_csv(sys.argv[1])
wide = df.pivot(index="rater", columns=["item_id", "model"], values="value")
print(krippendorff.alpha(reliability_data=wide.to_numpy(dtype=float), level_of_measurement="ordinal",
                         value_domain=[1, 2, 3, 4, 5]))
"""


def run_process(command: list[str]) -> None:
    """Run ``command`` to completion (output discarded); fail loudly if it fails."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "evalplatform.settings"}
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)


def command_runner(path: Path) -> tuple[Callable[[], None], str]:
    """``call_command('agreement', ...)`` in-process, or reader + summarize when Django is unavailable."""
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")
        import django
        from django.core.management import call_command

        django.setup()
    except Exception as exc:
        print(f"   (Django settings unavailable: {exc}; timing read_ratings + summarize instead)")
        return (lambda: summarize(read_ratings(path), bootstrap=1000, seed=0)), "reader + summarize"

    def run() -> None:
        with open(os.devnull, "w") as devnull, redirect_stdout(devnull):
            call_command("agreement", str(path), "--format", "json", stdout=devnull)

    return run, "call_command, json"


if __name__ == "__main__":
    main()
