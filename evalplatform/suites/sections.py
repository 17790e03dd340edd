"""Report sections of suites: the weighted composite, and a round's drift since the previous round.

Both read the report's snapshot (``data``); the drift section reads the previous round and the anchor
set's original round too, with the report's own loader (set-based queries).  Statistics come from
``evalplatform.stats.composite`` and ``evalplatform.stats.drift``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from evalplatform.accounts.models import User
from evalplatform.projects.models import Project, Response
from evalplatform.reports.data import ReportData
from evalplatform.stats.aggregate import mean_and_median
from evalplatform.stats.composite import composite_scores
from evalplatform.stats.drift import distribution_drift
from evalplatform.stats.jsonable import rounded
from evalplatform.suites.models import Round
from evalplatform.suites.selectors import RoundScores, round_scores, scores_from_data
from rubrics.models import Dimension

NUMERIC = (Dimension.Kind.LIKERT, Dimension.Kind.BINARY)
#: A distribution alert needs this many ratings on each side: PSI and the Jensen-Shannon distance of a
#: few dozen ratings swing widely by chance (an empty bin alone adds ~0.5 to the PSI), so below it the
#: figures are shown but raise nothing.  The anchor set alerts on its paired mean shift instead.
MIN_RATINGS_TO_ALERT = 50


def _weights(project: Project) -> dict[str, float]:
    return {
        k: float(w or 0) for k, w in Dimension.objects.filter(
            version_id=project.rubric_version_id, weight__gt=0, kind__in=NUMERIC
        ).values_list("key", "weight")
    }


def unit_composites(data: ReportData, weights: Mapping[str, float]) -> dict[tuple[str, str], float]:
    """Per unit (item external id, model): the composite of its mean scores (units missing a weighted
    dimension left out)."""
    n_models = max(len(data.models), 1)
    ranges, totals = {}, {}
    for dim in data.dimensions:
        if dim.key not in weights:
            continue
        ranges[dim.key] = (float(dim.scale[0]), float(dim.scale[-1]))
        key = dim.item * n_models + dim.model
        totals[dim.key] = (key, np.bincount(key, weights=dim.value, minlength=len(data.items) * n_models),
                           np.bincount(key, minlength=len(data.items) * n_models))
    if not ranges:
        return {}
    units = np.unique(np.concatenate([key for key, _, _ in totals.values()]))  # (item, model) in name order
    scores = {}
    for k, (_, total, n) in totals.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            scores[k] = np.where(n[units] > 0, total[units] / n[units], np.nan)
    comp = composite_scores(scores, {k: w for k, w in weights.items() if k in ranges}, ranges)
    return {(data.items[u // n_models], data.models[u % n_models]): float(c)
            for u, c in zip(units.tolist(), comp.tolist(), strict=True) if np.isfinite(c)}


def composite_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any] | None:
    """Per model: the mean weighted composite (0..1) of its responses with a 95% bootstrap interval."""
    weights = _weights(project)
    if not weights:
        return None
    per_unit = unit_composites(data, weights)
    by_model: dict[str, list[float]] = defaultdict(list)
    for (_item, model), value in sorted(per_unit.items()):
        by_model[model].append(value)
    bootstrap = int(parameters.get("bootstrap", 1000))
    seed = int(parameters.get("seed") or 0)
    models = []
    for i, (model, values) in enumerate(sorted(by_model.items())):
        agg = mean_and_median(np.asarray(values), bootstrap=bootstrap, seed=np.random.default_rng([seed, 23, i]))
        models.append({
            "model": model, "n": agg.n, "mean": rounded(agg.mean),
            "ci95": [rounded(agg.mean_ci95[0]), rounded(agg.mean_ci95[1])] if agg.mean_ci95 else None,
        })
    total = sum(weights.values())
    return {
        "weights": {k: rounded(w / total) for k, w in weights.items()},
        "scale": "each dimension rescaled to 0..1 by its scale's ends, then the weighted mean",
        "models": models,
    }


# --- drift -------------------------------------------------------------------------------------


def _drift_rows(before: RoundScores, after: RoundScores, model_before: str, model_after: str,
                dims: list[str]) -> list[dict[str, Any]]:
    rows = []
    for key in dims:
        x = before.ratings(model_before, key)
        y = after.ratings(model_after, key)
        if not x or not y:
            continue
        drift = distribution_drift(x, y, after.dimensions[key].scale)
        rows.append({"dimension": key, **drift.to_dict()})
    return rows


def _alerts(rows: list[dict[str, Any]], what: str, round_: Round) -> list[dict[str, Any]]:
    suite = round_.suite
    alerts: list[dict[str, Any]] = []
    for row in rows:
        reasons = []
        if min(row["n_before"], row["n_after"]) < MIN_RATINGS_TO_ALERT:
            continue
        if row["psi"] is not None and row["psi"] > suite.threshold("psi"):
            reasons.append(f"PSI {row['psi']:.3f} > {suite.threshold('psi'):g}")
        if row["js_distance"] is not None and row["js_distance"] > suite.threshold("js_distance"):
            reasons.append(f"Jensen-Shannon distance {row['js_distance']:.3f} > {suite.threshold('js_distance'):g}")
        if row["p_value"] is not None and row["p_value"] < suite.threshold("p_value"):
            reasons.append(f"chi-square p {row['p_value']:.2g} < {suite.threshold('p_value'):g}")
        if reasons:
            alerts.append({"kind": "distribution", "subject": what, "dimension": row["dimension"],
                           "message": f"{what}, {row['dimension']}: " + "; ".join(reasons)})
    return alerts


def _anchor_drift(round_: Round, now: RoundScores) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The anchor set rated now against the same responses' ratings in their original round: per
    dimension the mean shift (paired by response) and the distribution drift; per rater the change of
    their offset from the original panel's mean."""
    if not now.anchors:
        return None, []
    sources = {
        pk: (ext, model, project_id) for pk, ext, model, project_id in Response.objects.filter(
            pk__in=set(now.anchors.values())).values_list("pk", "item__external_id", "model", "item__project_id")
    }
    origin_rounds = {r.project_id: r for r in Round.objects.filter(project_id__in={s[2] for s in sources.values()})
                     .select_related("project", "suite")}
    origin_scores = {pid: round_scores(r) for pid, r in origin_rounds.items()}
    dims = [k for k, d in now.dimensions.items() if d.kind in NUMERIC]
    per_dim: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    rater_now: dict[str, list[float]] = defaultdict(list)
    rater_then: dict[str, list[float]] = defaultdict(list)
    for key in dims:
        diffs, before, after = [], [], []
        for (item, label), source_id in sorted(now.anchors.items()):
            ext, model, project_id = sources[source_id]
            then = origin_scores[project_id]
            old = then.values.get((ext, model), {}).get(key, [])
            new = now.values.get((item, label), {}).get(key, [])
            before += old
            after += new
            if old and new:
                panel_then = float(np.mean(old))
                diffs.append(float(np.mean(new)) - panel_then)
                for rater, value in now.by_rater.get((item, label), {}).get(key, {}).items():
                    rater_now[rater].append(value - panel_then)
                for rater, value in then.by_rater.get((ext, model), {}).get(key, {}).items():
                    rater_then[rater].append(value - panel_then)
        if not diffs:
            continue
        drift = distribution_drift(before, after, now.dimensions[key].scale)
        shift = float(np.mean(diffs))
        per_dim.append({"dimension": key, "n_anchors": len(diffs), "mean_shift": rounded(shift), **drift.to_dict()})
        if abs(shift) > round_.suite.threshold("anchor_shift"):
            alerts.append({"kind": "anchor", "subject": "anchor set", "dimension": key,
                           "message": f"anchor set, {key}: the same responses score {shift:+.2f} points from their "
                                      f"original round (threshold {round_.suite.threshold('anchor_shift'):g}): rater drift"})
    raters = []
    for rater in sorted(rater_now):
        offset_now = float(np.mean(rater_now[rater]))
        offset_then = float(np.mean(rater_then[rater])) if rater_then.get(rater) else None
        shift = offset_now - (offset_then or 0.0)
        raters.append({"rater": rater, "n_now": len(rater_now[rater]), "offset_now": rounded(offset_now),
                       "offset_then": rounded(offset_then), "shift": rounded(shift)})
        if abs(shift) > round_.suite.threshold("rater_shift"):
            alerts.append({"kind": "rater", "subject": rater, "dimension": None,
                           "message": f"rater {rater}: scores the anchor set {shift:+.2f} points away from "
                                      f"{'their own earlier ratings' if offset_then is not None else 'the original panel'} "
                                      f"(threshold {round_.suite.threshold('rater_shift'):g})"})
    return {"dimensions": per_dim, "raters": raters}, alerts


def round_section(project: Project, parameters: Mapping[str, Any], data: ReportData) -> dict[str, Any] | None:
    """For a round after the first: per model and dimension the drift of its score distribution since
    the previous round (PSI, Jensen-Shannon distance, chi-square), the anchor set's drift, the
    raters' drift on it, and the alerts the suite's thresholds raise."""
    round_ = Round.objects.select_related("suite", "project").filter(project=project).first()
    if round_ is None:
        return None
    now = scores_from_data(round_, data)
    previous = round_.suite.rounds.filter(number__lt=round_.number).select_related("project", "suite").order_by("-number").first()
    out: dict[str, Any] = {"suite": round_.suite.slug, "round": round_.number, "previous": None, "models": [],
                           "anchors": None, "gold": [], "alerts": [],
                           "thresholds": {k: round_.suite.threshold(k) for k in
                                          ("psi", "js_distance", "p_value", "anchor_shift", "rater_shift",
                                           "gold_drop")}}
    if previous is None:
        return out
    before = round_scores(previous)
    out["previous"] = previous.number
    dims = [k for k, d in now.dimensions.items() if k in before.dimensions and d.kind != Dimension.Kind.PAIRWISE]
    for model in sorted(set(now.models) & set(before.models)):
        rows = _drift_rows(before, now, model, model, dims)
        out["models"].append({"model": model, "dimensions": rows})
        out["alerts"] += _alerts(rows, f"model {model}", round_)
    anchors, anchor_alerts = _anchor_drift(round_, now)
    out["anchors"] = anchors
    out["alerts"] += anchor_alerts
    out["gold"], gold_alerts = _gold_drift(round_, previous)
    out["alerts"] += gold_alerts
    return out


def _gold_drift(round_: Round, previous: Round) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each rater's gold accuracy in the previous round and this one (``new_round`` copies the gold
    items, so it is the same responses); an alert when it falls by more than the threshold with at
    least ``GOLD_ALERT_MIN_ITEMS`` gold items rated on both sides."""
    from evalplatform.quality.selectors import GOLD_ALERT_MIN_ITEMS, gold_accuracy

    before, after = gold_accuracy(previous.project), gold_accuracy(round_.project)
    names = dict(User.objects.filter(pk__in=set(before) | set(after)).values_list("pk", "username"))
    rows, alerts = [], []
    for pk in sorted(set(before) | set(after), key=lambda k: names.get(k, "")):
        b, a = before.get(pk), after.get(pk)
        change = None if not (a and b and a.accuracy is not None and b.accuracy is not None) else a.accuracy - b.accuracy
        rows.append({"rater": names.get(pk, str(pk)), "before": rounded(b.accuracy) if b else None,
                     "n_before": b.n_items if b else 0, "after": rounded(a.accuracy) if a else None,
                     "n_after": a.n_items if a else 0, "change": rounded(change)})
        if (change is not None and a and b and min(a.n_items, b.n_items) >= GOLD_ALERT_MIN_ITEMS
                and -change > round_.suite.threshold("gold_drop")):
            alerts.append({"kind": "rater", "subject": names.get(pk), "dimension": None,
                           "message": f"rater {names.get(pk)}: gold accuracy fell from {b.accuracy:.0%} to "
                                      f"{a.accuracy:.0%} on the same gold items "
                                      f"(threshold {round_.suite.threshold('gold_drop'):.0%})"})
    return rows, alerts
