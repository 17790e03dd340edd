"""The gate's error rates in simulation, and its time on a suite-sized input.  Prints figures.

Generated rounds: 120 items (half "enterprise", half "self-serve"), three 1-5 dimensions rated by 3
raters with noise SD 0.8 and a per-item effect SD 0.4 shared by both models; the gate tests every
dimension overall and in each tier (9 tests, Holm).  ``python bench/bench_gate.py [runs]``.
"""

import sys
import time

import numpy as np

sys.path.insert(0, ".")
from evalplatform.stats.gate import FAIL, decide
from tests.stats.test_gate_and_drift import _simulate

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
rng = np.random.default_rng(2026)
for label, kwargs in [("no change", {}), ("tone -0.5 everywhere", {"regress_dim": "tone"}),
                      ("tone -0.5 in enterprise only", {"regress_dim": "tone", "regress_tier": "enterprise"}),
                      ("tone -0.25 everywhere", {"regress_dim": "tone", "shift": 0.25})]:
    fails = 0
    for _ in range(runs):
        a, b, groups = _simulate(rng, 120, **kwargs)
        fails += decide(a, b, groups=groups, n_boot=0, min_subgroup_items=20).verdict == FAIL
    print(f"{label:<32} gate fails in {fails / runs:.3f} of {runs} runs (alpha 0.05)")
a, b, groups = _simulate(rng, 2000)
t0 = time.perf_counter()
decide(a, b, groups=groups, n_boot=2000)
print(f"decide on 2000 items x 3 dimensions x 2 tiers, 2000 bootstrap resamples: {time.perf_counter() - t0:.2f} s")
