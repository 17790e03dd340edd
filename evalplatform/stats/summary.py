"""The agreement report: long-format ratings in, one JSON-serialisable dict out.

``summarize`` pivots the rows of each rubric dimension into a (raters x units) matrix, a unit being
one response (item_id, model), and reports Krippendorff's alpha, Cohen's kappa (pairwise mean and
pairs), Fleiss' kappa, percent agreement and Gwet's AC1/AC2 with 95% bootstrap intervals drawn from
the same resamples, per-model aggregates, per-rater figures and the most disagreed units.  Used by the
``agreement`` management command and by the report task.  The output holds only str, int, float,
None, lists and dicts (no numpy types, no NaN).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalplatform.stats.aggregate import model_aggregates
from evalplatform.stats.agreement import (
    FLEISS_CLASSIC,
    FLEISS_GENERALISED,
    fleiss_complete,
    fleiss_gwet_statistic,
    fleiss_statistic,
    fleiss_units,
    gwet_statistic,
    percent_agreement_statistic,
    precondition,
)
from evalplatform.stats.agreement import alpha_statistic as _alpha_statistic
from evalplatform.stats.bootstrap import Estimate, Seed, evaluate, make_rng
from evalplatform.stats.icc import (
    ICC_FORMS,
    TWOWAY_NOT_GIVEN,
    describe_icc,
    icc_all,
    icc_oneway,
    icc_summary,
    interpret_icc,
)
from evalplatform.stats.jsonable import finite, label_key, label_value
from evalplatform.stats.matrix import (
    CodedRatings,
    Label,
    Level,
    RatingDataError,
    Weighting,
    check_level,
    collapse_units,
    factorize,
)
from evalplatform.stats.pairwise_kappa import cohen_statistic, pair_results, rater_pairs
from evalplatform.stats.raters import most_disagreed, rater_figures
from evalplatform.stats.readers import Factor, LongRatings, RatingRow, RowError, from_columns, from_rows

WEIGHTS_BY_LEVEL: dict[Level, Weighting] = {"nominal": None, "ordinal": "quadratic", "interval": "quadratic",
                                           "ratio": "quadratic"}


# --------------------------------------------------------------------------------------------------
# pivoting


def _number(x: Any) -> float | None:
    """The label as a float, or None if it is not a number (bools count as 0/1)."""
    if isinstance(x, bool | np.bool_):
        return float(x)
    if isinstance(x, int | float | np.integer | np.floating):
        return float(x)
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            return None
    return None


def _dense(codes: NDArray[np.int64], size: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Renumber codes in [0, size) to 0..k-1 keeping their order: (new codes, old code of each new one)."""
    if size <= max(4 * codes.size, 1_000_000):
        present = np.bincount(codes, minlength=size) > 0
        remap = np.cumsum(present) - 1
        return remap[codes], np.flatnonzero(present)
    first, inverse, _ = factorize(codes)
    return inverse, codes[first]


def _scale_codes(
    long: LongRatings, rows: NDArray[np.int64], dimension: str, level: str | None, scale: Sequence[Label] | None
) -> tuple[NDArray[np.int64], tuple[Label, ...], bool, Level]:
    """Value codes of ``rows`` on the dimension's scale, the scale, whether it is numeric, and the level."""
    vcodes = long.value.codes[rows]
    used = np.flatnonzero(np.bincount(vcodes, minlength=len(long.value.labels)))
    labels = [long.value.labels[i] for i in used.tolist()]
    numbers = [_number(x) for x in labels]
    parses = all(x is not None for x in numbers)
    scale_numeric = scale is not None and all(_number(s) is not None and not isinstance(s, str) for s in scale)
    lvl = check_level(level or ("ordinal" if parses or scale_numeric else "nominal"))

    def fail(label_index: int, message: str) -> RowError:
        row = rows[int(np.argmax(vcodes == used[label_index]))]
        return RowError(message, field="value", **long.locate(int(row)))

    code_of = np.full(len(long.value.labels), -1, dtype=np.int64)
    if parses and (lvl != "nominal" or scale is None or scale_numeric):
        for i, x in enumerate(numbers):
            if x is not None and not math.isfinite(x):
                raise fail(i, f"{labels[i]!r} is not a finite number (leave the field empty for a missing rating)")
        values = np.asarray(numbers, dtype=float)
        domain = np.unique(values if scale is None else np.asarray([_number(s) for s in scale], dtype=float))
        if lvl == "ratio" and domain.size and domain[0] < 0:
            negative = np.flatnonzero(values < 0)
            message = (f"dimension {dimension!r} is on the ratio level, which needs a true zero and no negative "
                       "values; use the interval level")
            if negative.size:
                raise fail(int(negative[0]), f"{labels[negative[0]]!r} is negative: {message}")
            raise RatingDataError(f"the scale of {message}")
        pos = np.minimum(np.searchsorted(domain, values), domain.size - 1)
        off = np.flatnonzero(domain[pos] != values)
        if off.size:
            raise fail(int(off[0]), f"{labels[off[0]]!r} is not on the scale of dimension {dimension!r}")
        code_of[used] = pos
        return code_of[vcodes], tuple(float(v) for v in domain), True, lvl
    if lvl in ("interval", "ratio") or (lvl == "ordinal" and scale is None):
        bad = next(i for i, x in enumerate(numbers) if x is None)
        raise fail(bad, f"{labels[bad]!r} is not a number (dimension {dimension!r} is on the {lvl} level"
                        + ("" if lvl != "ordinal" else "; give its scale to order labels") + ")")
    text = [str(x) for x in labels]
    domain_labels: list[Label] = sorted(set(text)) if scale is None else [str(s) for s in dict.fromkeys(scale)]
    lookup = {label: i for i, label in enumerate(domain_labels)}
    for i, t in enumerate(text):
        if t not in lookup:
            raise fail(i, f"{labels[i]!r} is not on the scale of dimension {dimension!r}")
        code_of[used[i]] = lookup[t]
    return code_of[vcodes], tuple(domain_labels), False, lvl


class Pivot:
    """One dimension as a coded (raters x units) matrix with the labels of its raters and units."""

    def __init__(self, long: LongRatings, rows: NDArray[np.int64], dimension: str, level: str | None,
                 scale: Sequence[Label] | None) -> None:
        rows = rows[long.value.codes[rows] >= 0]
        self.n_ratings = int(rows.size)
        value_codes, domain, numeric, self.level = _scale_codes(long, rows, dimension, level, scale)
        n_models = len(long.model.labels) if long.model is not None else 1
        model_codes = long.model.codes[rows] if long.model is not None else np.zeros(rows.size, dtype=np.int64)
        unit_key = long.item.codes[rows] * n_models + model_codes
        unit, unit_keys = _dense(unit_key, len(long.item.labels) * n_models)
        rater, rater_codes = _dense(long.rater.codes[rows], len(long.rater.labels))
        rater_names = [long.rater.labels[code] for code in rater_codes.tolist()]
        order = sorted(range(rater_codes.size), key=lambda i: str(rater_names[i]))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        rater = rank[rater] if rater.size else rater
        self.rater_labels = [rater_names[i] for i in order]
        self.unit_items = unit_keys // n_models
        self.unit_models = unit_keys % n_models
        n_raters, n_units = len(self.rater_labels), unit_keys.size
        cell = rater * n_units + unit
        self._check_duplicates(long, rows, cell, n_raters * n_units, dimension)
        codes = np.full((n_raters, n_units), -1, dtype=np.int64)
        codes[rater, unit] = value_codes
        self.coded = CodedRatings(codes, domain, numeric)
        self.model_labels = list(long.model.labels) if long.model is not None else [None]
        self.item_labels = long.item.labels

    def _check_duplicates(self, long: LongRatings, rows: NDArray[np.int64], cell: NDArray[np.int64],
                          n_cells: int, dimension: str) -> None:
        if n_cells <= 50_000_000:
            repeated = np.bincount(cell, minlength=n_cells)[cell] > 1
        else:
            _, inverse, sizes = factorize(cell)
            repeated = sizes[inverse] > 1
        if not repeated.any():
            return
        first = int(np.argmax(repeated))
        again = np.flatnonzero(repeated & (cell == cell[first]))[1]
        r = long.rater.labels[long.rater.codes[rows[again]]]
        i = long.item.labels[long.item.codes[rows[again]]]
        where_first = long.locate(int(rows[first]))
        before = f" (first on line {where_first['line']})" if "line" in where_first else ""
        raise RowError(f"rater {r!r} rated item {i!r} twice in dimension {dimension!r}{before}",
                       **long.locate(int(rows[again])))


# --------------------------------------------------------------------------------------------------
# JSON


def _ci(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]


def _coefficient(est: Estimate) -> dict[str, Any]:
    out: dict[str, Any] = {"value": finite(est.value), "ci95": _ci(est.ci95)}
    if est.value is None:
        out["reason"] = est.reason
    elif est.ci95 is None and est.ci_reason:
        out["ci_reason"] = est.ci_reason
    if est.dropped_resamples:
        out["dropped_resamples"] = est.dropped_resamples
    if est.note:
        out["note"] = est.note
    return out


def summarize_dimension(
    long: LongRatings, rows: NDArray[np.int64], dimension: str, *, level: str | None = None,
    scale: Sequence[Label] | None = None, bootstrap: int = 1000, seed: Seed = 0, top: int = 20,
    fleiss_modal_only: bool = False, icc: bool = False,
) -> dict[str, Any]:
    """The report entry of one dimension (see ``summarize``)."""
    pv = Pivot(long, rows, dimension, level, scale)
    coded, lvl = pv.coded, pv.level
    rng_agreement, rng_models = make_rng(seed).spawn(2)
    patterns = collapse_units(coded.codes, coded.n_values)
    positions = coded.positions()
    weights = WEIGHTS_BY_LEVEL[lvl]
    pairs = rater_pairs(patterns)
    # interval and ratio data: kappa's weights measure distance in values; ordinal: in ranks
    kappa_positions = positions if lvl in ("interval", "ratio") and coded.numeric else None
    cohen = cohen_statistic(patterns, pairs, weights, kappa_positions)
    stats = {
        "alpha": _alpha_statistic(patterns, lvl, positions),
        "cohen": cohen,
        "pa": percent_agreement_statistic(patterns),
        "gwet": gwet_statistic(patterns, weights, positions),
    }
    pre = precondition(patterns)
    fleiss_note: str | None = None
    fleiss_reason: str | None = pre
    fleiss_form = FLEISS_CLASSIC
    if pre is None and not fleiss_modal_only and not fleiss_complete(patterns):
        fleiss_form = FLEISS_GENERALISED
        stats["fleiss"] = fleiss_gwet_statistic(patterns)
    elif pre is None:
        include, fleiss_reason, fleiss_note = fleiss_units(patterns, fleiss_modal_only)
        if include is not None:
            stats["fleiss"] = fleiss_statistic(patterns, include)
    est = evaluate(stats, patterns.weights, bootstrap=bootstrap, seed=rng_agreement, precondition=pre)
    fleiss = est.get("fleiss") or Estimate(None, fleiss_reason, n_units=patterns.n_units)
    if fleiss_note:
        fleiss = replace(fleiss, note=fleiss_note)
    pair_list = pair_results(cohen, patterns, pairs, weights, kappa_positions) if pre is None else ()
    names = [label_key(r) for r in pv.rater_labels]

    cohen_out: dict[str, Any] = {"weights": weights, "mean": finite(est["cohen"].value), "ci95": _ci(est["cohen"].ci95),
                                 "weighted_by": None if weights is None else "values" if kappa_positions is not None
                                 else "ranks"}
    cohen_out.update({k: v for k, v in _coefficient(est["cohen"]).items() if k not in ("value", "ci95")})
    cohen_out["pairs"] = [
        {"raters": [names[p.raters[0]], names[p.raters[1]]], "value": finite(p.value), "n_units": p.n_units,
         **({"reason": p.reason} if p.value is None else {})}
        for p in pair_list
    ]
    aggregates = model_aggregates(coded, pv.unit_models, len(pv.model_labels), bootstrap=bootstrap,
                                  seed=rng_models)
    by_model = []
    for label, agg in sorted(zip(pv.model_labels, aggregates, strict=True), key=lambda t: str(t[0])):
        if agg.n == 0:
            continue
        entry = {"model": label_value(label), "mean": finite(agg.mean), "ci95": _ci(agg.mean_ci95), "median": finite(agg.median),
                 "median_ci95": _ci(agg.median_ci95), "n": agg.n, "n_ratings": agg.n_ratings,
                 "distribution": {label_key(k): v for k, v in agg.distribution.items()}}
        if agg.reason:
            entry["reason"] = agg.reason
        by_model.append(entry)
    raters_out = []
    for fig in rater_figures(patterns, lvl, positions, pair_list, numeric=coded.numeric):
        entry = {"rater": names[fig.rater], "n_items": fig.n_items, "alpha_without": finite(fig.alpha_without),
                 "mean_offset": finite(fig.mean_offset),
                 "kappa_with": {names[o]: finite(v) for o, v in fig.kappa_with.items()},
                 "shared_units": {names[o]: n for o, n in fig.shared_with.items()}}
        if fig.alpha_without is None:
            entry["alpha_without_reason"] = fig.alpha_without_reason
        raters_out.append(entry)
    contested = []
    for unit, score in (most_disagreed(patterns, lvl, positions, top) if pre is None else []):
        column = coded.codes[:, unit]
        contested.append({
            "item_id": label_value(pv.item_labels[pv.unit_items[unit]]),
            "model": label_value(pv.model_labels[pv.unit_models[unit]]),
            "disagreement": finite(score),
            "values": {names[r]: label_value(coded.domain[c]) for r, c in enumerate(column) if c >= 0},
        })
    out = {
        "dimension": label_value(dimension), "level": lvl, "n_units": patterns.n_units, "n_raters": coded.n_raters,
        "n_ratings": pv.n_ratings,
        # the categories the coefficients used; inferred = the values present, since no scale was given
        "scale": [label_value(v) for v in coded.domain], "scale_inferred": scale is None,
        "krippendorff_alpha": _coefficient(est["alpha"]),
        "cohen_kappa": cohen_out,
        "fleiss_kappa": {**_coefficient(fleiss), "form": fleiss_form},
        "percent_agreement": _coefficient(est["pa"]),
        "gwet_ac1": {"weights": weights, **_coefficient(est["gwet"])},
        "by_model": by_model,
        "raters": raters_out,
        "most_disagreed": contested,
    }
    if coded.numeric and (lvl in ("interval", "ratio") or (icc and lvl == "ordinal")):
        out["icc"] = icc_entry(coded)
    return out


def icc_entry(coded: CodedRatings) -> dict[str, Any]:
    """Intraclass correlations of a numeric dimension, JSON-safe.

    The six Shrout & Fleiss forms (``stats.icc.icc_summary``) on complete units, each with a plain
    reading (``describe_icc``); and ``oneway``: ICC(1,1) and ICC(1,k) over every unit with two or more
    ratings (``stats.icc.icc_oneway``), the forms that fit an incomplete design.  ``design`` says
    whether every rater rated every unit; ``forms`` which forms fit it and why the others are not given.
    """
    values = np.asarray(coded.domain, dtype=float)
    matrix = np.where(coded.codes >= 0, values[np.maximum(coded.codes, 0)], np.nan)
    entry = icc_summary(matrix)
    results = icc_all(matrix)
    for form in ICC_FORMS:
        item = entry[form]
        item["value"], item["F"], item["p_value"] = finite(item["value"]), finite(item["F"]), finite(item["p_value"])
        item["ci95"] = None if item["ci95"] is None or not all(map(math.isfinite, item["ci95"])) else item["ci95"]
        item["reading"] = describe_icc(results[form])
    oneway = icc_oneway(matrix)
    k = oneway["k"]
    for form, name in (("ICC1", "ICC(1,1)"), ("ICC1k", f"ICC(1,{k:.2f})" if k else "ICC(1,k)")):
        value, ci = oneway[form], oneway["ci95"][form]
        if value is None:
            reading = f"{name} could not be computed ({oneway['reason'] or 'undefined'})."
        else:
            reading = f"{name} = {value:.2f}: {interpret_icc(value)} reliability"
            if ci is not None:
                reading += f"; 95% CI {ci[0]:.2f} to {ci[1]:.2f}"
            reading += f" ({oneway['n_units_used']} units with 2 or more ratings)."
        oneway.setdefault("readings", {})[form] = reading
    entry["oneway"] = oneway
    complete = entry["n_units_dropped"] == 0 and entry["n_units_used"] >= 2
    entry["design"] = "complete" if complete else "incomplete"
    if complete:
        entry["forms"] = {"fit": ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"], "not_given": None}
    else:
        used = entry["n_units_used"]
        entry["forms"] = {
            "fit": ["ICC1", "ICC1k"],
            "not_given": TWOWAY_NOT_GIVEN + (
                f"; the table of six forms covers only the {used} units rated by every rater" if used >= 2 else ""),
        }
    return entry


def dimension_rows(long: LongRatings) -> list[tuple[Any, NDArray[np.int64]]]:
    """(dimension label, row indices) in order of the dimensions' labels."""
    codes = long.dimension.codes
    labels = long.dimension.labels
    if len(labels) == 1:
        return [(labels[0], np.arange(codes.size))]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
    groups = [(labels[d], order[bounds[d] : bounds[d + 1]]) for d in range(len(labels))]
    return sorted((g for g in groups if g[1].size), key=lambda g: str(g[0]))


def summarize(
    ratings: LongRatings | Mapping[str, Sequence[Any]] | Iterable[RatingRow | Sequence[Any] | Mapping[str, Any]],
    *,
    level: str | None = None,
    levels: Mapping[str, str] | None = None,
    scales: Mapping[str, Sequence[Label]] | None = None,
    bootstrap: int = 1000,
    seed: int | None = 0,
    top: int = 20,
    fleiss_modal_only: bool = False,
    icc: bool = False,
) -> dict[str, Any]:
    """The agreement report of long-format ratings, one entry per dimension.

    ``ratings``: ``LongRatings`` (from ``readers``); a mapping of equal-length columns (item_id, rater,
    value, optional dimension and model: lists or numpy arrays); or rows (item_id, rater, dimension,
    value, model|None) as ``RatingRow``, tuples or mappings.  A missing value (None/NaN) is skipped.  ``level`` applies to every dimension, ``levels`` overrides
    per dimension; by default numeric values are ordinal and labels nominal.  ``scales`` gives a
    dimension's full scale (unused values count, e.g. for Gwet's q and the distributions).  Weighted
    coefficients use quadratic weights on ordinal, interval and ratio levels.  Interval and ratio
    dimensions also get ``icc`` (the six Shrout & Fleiss forms with F-test intervals and a plain
    reading, complete units only); ordinal ones too when ``icc`` is set.  Raises ``RowError``
    (a ``ValueError``) naming the row/line for unusable input.
    """
    if isinstance(ratings, LongRatings):
        long = ratings
    elif isinstance(ratings, Mapping):
        long = from_columns(ratings)
    else:
        long = from_rows(ratings)
    if level is not None:
        check_level(level)
    levels, scales = dict(levels or {}), dict(scales or {})
    groups = dimension_rows(long)
    seeds = np.random.default_rng(seed).spawn(max(len(groups), 1))
    dims = [
        summarize_dimension(long, rows, name, level=levels.get(str(name), level), scale=scales.get(str(name)),
                            bootstrap=bootstrap, seed=seeds[i], top=top, fleiss_modal_only=fleiss_modal_only,
                            icc=icc)
        for i, (name, rows) in enumerate(groups)
    ]
    parameters: dict[str, Any] = {"bootstrap": int(bootstrap), "seed": seed}
    if icc:
        parameters["icc"] = True
    return {"dimensions": dims, "parameters": parameters}


__all__ = ["Factor", "LongRatings", "RatingRow", "summarize", "summarize_dimension"]
