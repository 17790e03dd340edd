"""Benchmark: Bradley–Terry fit and prompt-clustered bootstrap vs choix.

20 models x 50,000 votes over 5,000 prompts (20% ties).  Run:

    .venv/bin/python bench/bench_pairwise.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalplatform.stats.pairwise import bradley_terry

N_MODELS, N_VOTES, N_PROMPTS, N_BOOT = 20, 50_000, 5_000, 1000


def make_votes(seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 0.8, N_MODELS)
    prompt = rng.integers(0, N_PROMPTS, N_VOTES)
    a = rng.integers(0, N_MODELS, N_VOTES)
    b = (a + rng.integers(1, N_MODELS, N_VOTES)) % N_MODELS
    y = (rng.random(N_VOTES) < 1 / (1 + np.exp(-(theta[a] - theta[b])))).astype(float)
    y[rng.random(N_VOTES) < 0.2] = 0.5
    return prompt, a, b, y, theta


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    prompt, a, b, y, _ = make_votes()
    print(f"{N_MODELS} models x {N_VOTES:,} votes over {N_PROMPTS:,} prompts")
    t_fit = best_of(lambda: bradley_terry(prompt, a, b, y, n_boot=0))
    print(f"Bradley–Terry fit (Newton):             {t_fit * 1000:8.1f} ms")
    t_boot = best_of(lambda: bradley_terry(prompt, a, b, y, n_boot=N_BOOT), repeat=1)
    print(f"fit + {N_BOOT} prompt-bootstrap resamples:  {t_boot * 1000:8.1f} ms")
    res = bradley_terry(prompt, a, b, y, n_boot=0)
    ours = np.array([m.strength for m in sorted(res.models, key=lambda m: m.model)])

    try:
        import choix
    except ImportError:  # pragma: no cover
        print("choix not installed: skipped")
        return
    # choix takes (winner, loser) pairs: decisive votes twice, ties once each way (same likelihood x2)
    win = y == 1
    lose = y == 0
    tie = y == 0.5
    pairs = np.concatenate([
        np.column_stack([a[win], b[win]]), np.column_stack([a[win], b[win]]),
        np.column_stack([b[lose], a[lose]]), np.column_stack([b[lose], a[lose]]),
        np.column_stack([a[tie], b[tie]]), np.column_stack([b[tie], a[tie]]),
    ])
    data = [tuple(p) for p in pairs.tolist()]
    est = None

    def run_choix() -> None:
        nonlocal est
        est = choix.ilsr_pairwise(N_MODELS, data, alpha=0.0, tol=1e-10, max_iter=1000)

    t_choix = best_of(run_choix)
    print(f"choix.ilsr_pairwise fit:                {t_choix * 1000:8.1f} ms")
    diff = np.abs((est - est.mean()) - ours).max()
    print(f"max |θ_ours - θ_choix|:                 {diff:.2e}")


if __name__ == "__main__":
    main()
