"""A weighted composite of a rubric's numeric dimensions, per unit (one response, or one item).

Each dimension is first put on [0, 1] by its scale's ends ((x - min) / (max - min)), so a 1-5 Likert
scale and a yes/no question weigh what their weights say and not what their ranges happen to be;
the composite is the weighted mean of the rescaled scores, so it lies in [0, 1] too.  A unit lacking
a score on a weighted dimension has no composite (NaN): a missing score is not a zero.

Pure numpy; no Django.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray


def composite_scores(
    scores: Mapping[str, ArrayLike], weights: Mapping[str, float], ranges: Mapping[str, tuple[float, float]]
) -> NDArray[np.float64]:
    """The per-unit composite: ``sum_k w_k (x_k - lo_k) / (hi_k - lo_k) / sum_k w_k`` over the weighted
    dimensions (``scores``: dimension -> per-unit scores, aligned; NaN = missing)."""
    used = {k: float(w) for k, w in weights.items() if w and w > 0}
    if not used:
        raise ValueError("no dimension has a positive weight")
    missing = [k for k in used if k not in scores]
    if missing:
        raise ValueError(f"no scores for weighted dimension(s): {', '.join(sorted(missing))}")
    total = sum(used.values())
    out: NDArray[np.float64] | None = None
    for key, w in used.items():
        lo, hi = ranges[key]
        if not hi > lo:
            raise ValueError(f"dimension {key!r} has a one-value scale; it cannot be rescaled")
        part = (np.asarray(scores[key], dtype=float) - lo) / (hi - lo) * (w / total)
        out = part if out is None else out + part
    assert out is not None
    return out
