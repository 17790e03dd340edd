"""A synthetic human panel and three judges that the calibration must tell apart.

Five humans rate every unit on a 1-5 scale around a hidden truth in 1..4 (so a judge one point above
the panel's median never hits the scale's end); the judges are ``copy`` (the panel's median),
``random`` (uniform on the scale) and ``high`` (the median plus one).
"""

from __future__ import annotations

import numpy as np

HUMANS = ("ann", "ben", "cat", "dan", "eve")
JUDGES = ("copy", "random", "high")
SCALE = (1, 2, 3, 4, 5)


def panel(n_units: int = 60, seed: int = 11) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(humans x units) integer ratings, and each judge's rating per unit."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 5, n_units)
    humans = np.clip(np.rint(truth + rng.normal(0, 0.6, (len(HUMANS), n_units))), 1, 4).astype(int)
    median = np.median(humans, axis=0).astype(int)  # five raters: always a scale point
    judges = {"copy": median, "random": rng.integers(1, 6, n_units), "high": median + 1}
    return humans, judges


def long_rows(raters: dict[str, np.ndarray], *, dimension: str = "quality") -> list[dict]:
    """Long-format rows (item_id, model, rater, dimension, value) of each rater's ratings by unit."""
    return [
        {"item_id": f"t-{u + 1:04d}", "model": "m1", "rater": name, "dimension": dimension, "value": int(value)}
        for name, values in raters.items() for u, value in enumerate(values)
    ]


def everyone(humans: np.ndarray, judges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {**dict(zip(HUMANS, humans, strict=True)), **judges}


def assert_told_apart(by_judge: dict[str, dict]) -> None:
    """The figures of a report's judge entries (one dimension each) tell the three judges apart."""
    copy, rand, high = by_judge["copy"], by_judge["random"], by_judge["high"]
    assert copy["judge_kappa"]["value"] > 0.97
    assert abs(rand["judge_kappa"]["value"]) < 0.25
    assert rand["judge_kappa"]["ci95"][0] < 0.1
    assert high["spearman"]["value"] > 0.9
    assert copy["spearman"]["value"] > 0.9
    assert abs(rand["spearman"]["value"]) < 0.3
    assert 0.8 < high["offset"]["value"] < 1.2
    assert high["offset"]["direction"] == "lenient"
    assert abs(copy["offset"]["value"]) < 0.2
    assert rand["judge_kappa"]["value"] < high["judge_kappa"]["value"] < copy["judge_kappa"]["value"]
    assert copy["verdict"] == "agrees with the panel more than a typical human"
    assert rand["verdict"] == high["verdict"] == "agrees with the panel less than a typical human"
    assert copy["alpha_with_judge"]["value"] > copy["alpha_humans"]["value"] > rand["alpha_with_judge"]["value"]
    assert [len(j["human_kappas"]) for j in (copy, rand, high)] == [len(HUMANS)] * 3
    assert copy["disagreements"] == []
    assert high["disagreements"]
    assert all(d["gap"] == 1 for d in high["disagreements"])
