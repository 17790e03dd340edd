"""Judge calibration of long-format ratings: the ``judges`` key of a report and of ``manage.py agreement``.

``judges_report`` pivots each dimension's ratings into one (raters x units) matrix, as ``summarize``
does, splits the named judges off the other raters (the human panel) and calibrates every judge with
``judges.calibrate_judges``.  Pure numpy; no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evalplatform.stats.jsonable import label_key, label_value
from evalplatform.stats.judges import calibrate_judges
from evalplatform.stats.matrix import RatingDataError
from evalplatform.stats.readers import Factor, LongRatings
from evalplatform.stats.summary import Pivot, dimension_rows


def judges_report(
    ratings: LongRatings,
    judges: Sequence[Any],
    *,
    level: str | None = None,
    levels: Mapping[str, str] | None = None,
    scales: Mapping[str, Sequence[Any]] | None = None,
    bootstrap: int = 1000,
    seed: int | None = 0,
    top: int = 10,
) -> list[dict[str, Any]]:
    """Each judge (a rater of ``ratings``) calibrated on every dimension it rated against the other
    raters of that dimension, the human panel: the JSON of a report's ``judges`` key.

    One entry per judge, in the order given: ``{"rater", "dimensions": [...]}``, a dimension being
    ``JudgeCalibration.to_dict()`` plus ``dimension``, ``n_humans`` and ``n_judge_ratings``; units are
    (item_id, model) as in ``summarize``, and a disagreement names its unit that way.  ``level``,
    ``levels`` and ``scales`` as in ``summarize`` (labels on a non-numeric scale are scored by their
    position in it).  Raises ``RatingDataError`` naming a judge with no rating.
    """
    names = list(dict.fromkeys(str(j) for j in judges))
    present = {label_key(r) for r in ratings.rater.labels}
    absent = [n for n in names if n not in present]
    if absent:
        raise RatingDataError(f"no ratings by {', '.join(map(repr, absent))} (the judge must be a rater in the data)")
    levels, scales = dict(levels or {}), dict(scales or {})
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for d, (dim, rows) in enumerate(dimension_rows(ratings)):
        pv = Pivot(ratings, rows, dim, levels.get(str(dim), level), scales.get(str(dim)))
        raters = [label_key(r) for r in pv.rater_labels]
        judge_rows = [i for i, r in enumerate(raters) if r in out]
        if not judge_rows:
            continue
        human_rows = [i for i, r in enumerate(raters) if r not in out]
        coded = pv.coded
        values = np.asarray(coded.domain, dtype=float) if coded.numeric else np.arange(coded.n_values, dtype=float)
        X = np.where(coded.codes >= 0, values[np.maximum(coded.codes, 0)], np.nan)
        results = calibrate_judges(
            X[human_rows], {raters[i]: X[i] for i in judge_rows}, level=pv.level, scale_values=values,
            rater_ids=[raters[i] for i in human_rows], n_boot=bootstrap,
            seed=None if seed is None else [seed, d], top_n=top,
        )
        for i in judge_rows:
            entry = results[raters[i]].to_dict()
            entry["bootstrap"]["seed"] = seed
            entry["disagreements"] = [_named_unit(pv, x) for x in entry["disagreements"]]
            out[raters[i]].append({"dimension": label_value(dim), "n_humans": len(human_rows),
                                   "n_judge_ratings": int((coded.codes[i] >= 0).sum()), **entry})
    return [{"rater": name, "dimensions": dims} for name, dims in out.items()]


def _named_unit(pv: Pivot, entry: dict[str, Any]) -> dict[str, Any]:
    """A disagreement's unit index → item_id and model; positions on a label scale → the labels."""
    u = entry.pop("unit")
    named = {"item_id": label_value(pv.item_labels[pv.unit_items[u]]), "model": label_value(pv.model_labels[pv.unit_models[u]]),
             **entry}
    domain = pv.coded.domain
    for key in ("judge", "consensus"):
        x = named[key]
        if x is None:
            continue
        if pv.coded.numeric:
            named[key] = label_value(x)
        else:
            named[key] = domain[int(x)] if float(x).is_integer() else f"{domain[int(x)]}/{domain[int(x) + 1]}"
    return named


def without_raters(ratings: LongRatings, raters: Sequence[Any]) -> LongRatings:
    """The ratings of everyone but ``raters`` (compared as text), keeping each row's source line."""
    names = {str(r) for r in raters}
    drop = np.array([label_key(r) in names for r in ratings.rater.labels], dtype=bool)
    keep = ~drop[ratings.rater.codes] if drop.size else np.ones(len(ratings), dtype=bool)
    lines = ratings.lines
    if lines is None and ratings.first_line is not None:
        lines = ratings.first_line + np.arange(len(ratings), dtype=np.int64)

    def rows(factor: Factor) -> Factor:
        return Factor(factor.codes[keep], factor.labels)

    return LongRatings(
        item=rows(ratings.item), rater=rows(ratings.rater), dimension=rows(ratings.dimension),
        value=rows(ratings.value), model=None if ratings.model is None else rows(ratings.model),
        lines=None if lines is None else lines[keep],
    )
