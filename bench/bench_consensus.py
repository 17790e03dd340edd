"""Benchmark: Dawid–Skene and MACE on 100,000 ratings, next to crowd-kit on the same data.

20,000 items x 5 ratings, 5 classes, 20 raters (12 careful with accuracy 0.60–0.95, 6 uniform
spammers, 2 adversarial raters answering (truth + 1) mod 5).  Run:

    .venv/bin/python bench/bench_consensus.py            # crowd-kit with its defaults (slow MACE)
    .venv/bin/python bench/bench_consensus.py --quick    # crowd-kit MACE with 1 restart

crowd-kit gets workers and labels recoded so that first-appearance order equals sorted order
(crowd-kit 1.4.2's MACE mixes up per-worker parameters otherwise; see tests/stats/test_consensus.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalplatform.stats.consensus import majority_vote, wide_to_long
from evalplatform.stats.latent_class import dawid_skene, mace

N_ITEMS, PER_ITEM, K = 20_000, 5, 5
CAREFUL = tuple(np.linspace(0.60, 0.95, 12))
N_SPAM, N_ADV = 6, 2


def make_ratings(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, N_ITEMS)
    n_r = len(CAREFUL) + N_SPAM + N_ADV
    answers = np.empty((n_r, N_ITEMS))
    for r, acc in enumerate(CAREFUL):
        wrong = (truth + rng.integers(1, K, N_ITEMS)) % K
        answers[r] = np.where(rng.random(N_ITEMS) < acc, truth, wrong)
    answers[len(CAREFUL) : len(CAREFUL) + N_SPAM] = rng.integers(0, K, (N_SPAM, N_ITEMS))
    answers[len(CAREFUL) + N_SPAM :] = (truth + 1) % K
    chosen = np.argsort(rng.random((n_r, N_ITEMS)), axis=0) < PER_ITEM
    return np.where(chosen, answers + 1.0, np.nan), truth + 1.0


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def crowdkit_labels(model: Any, x: np.ndarray) -> tuple[np.ndarray, float]:
    import pandas as pd

    u, r, v = wide_to_long(x)
    label_codes, label_values = pd.factorize(v)
    frame = pd.DataFrame({"task": u, "worker": pd.factorize(r)[0], "label": label_codes})
    labels, seconds = timed(lambda: model.fit_predict(frame))
    out = np.full(x.shape[1], np.nan)
    out[labels.index.to_numpy(dtype=int)] = np.asarray(label_values, dtype=float)[labels.to_numpy(dtype=int)]
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="crowd-kit MACE with 1 restart (its restarts are identical)"
    )
    parser.add_argument("--no-crowdkit", action="store_true")
    args = parser.parse_args()

    x, truth = make_ratings()
    n = int((~np.isnan(x)).sum())
    print(f"{n:,} ratings: {x.shape[1]:,} items x {PER_ITEM} ratings, {K} classes, {x.shape[0]} raters")
    mv, t_mv = timed(lambda: majority_vote(x), repeat=3)
    ds, t_ds = timed(lambda: dawid_skene(x), repeat=3)
    mc, t_mc = timed(lambda: mace(x), repeat=3)
    acc = {name: float((res.labels == truth).mean()) for name, res in (("mv", mv), ("ds", ds), ("mace", mc))}
    print(f"{'':28}{'ours (s)':>10}{'crowd-kit (s)':>15}{'same labels':>13}{'accuracy':>10}")
    print(f"{'majority vote':28}{t_mv:10.3f}{'':>15}{'':>13}{acc['mv']:10.4f}")
    rows = [("Dawid-Skene", ds, t_ds), ("MACE (vb, 10 restarts)", mc, t_mc)]
    for name, res, t in rows:
        ck = ""
        same = ""
        if not args.no_crowdkit:
            from crowdkit.aggregation import MACE, DawidSkene

            model = (
                DawidSkene(n_iter=100)
                if name.startswith("Dawid")
                else MACE(n_restarts=1 if args.quick else 10)
            )
            ck_labels, ck_t = crowdkit_labels(model, x)
            ck, same = f"{ck_t:15.3f}", f"{(ck_labels == res.labels).mean():13.4f}"
        print(
            f"{name:28}{t:10.3f}{ck:>15}{same:>13}{(res.labels == truth).mean():10.4f}   ({res.n_iter} iter)"
        )
    if args.quick and not args.no_crowdkit:
        print("(crowd-kit MACE ran 1 restart x 50 iterations; its 10 default restarts all use the same seed)")


if __name__ == "__main__":
    main()
