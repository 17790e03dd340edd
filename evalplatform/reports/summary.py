"""The report at a glance: what a lead needs from the stored result before reading any chart.

Per scored dimension a verdict on Krippendorff's α (with its interval and the thresholds it is read
against), the leading model with its interval and whether its lead over the runner-up is
significant, the raters the quality analysis flagged or whose absence raises α, and the tasks
flagged for adjudication.  Only classification of stored figures happens here.
"""

from __future__ import annotations

import math
from typing import Any

from django.utils.text import slugify

#: Krippendorff (2004, §11.4): α ≥ .800 reliable; .667 ≤ α < .800 tentative conclusions only.
RELIABLE, TENTATIVE = 0.800, 0.667
#: α without a rater this much above α with everyone: the rater disagrees with the rest.
ALPHA_RISE = 0.02
FLAG_TEXT = {"gold": "low gold accuracy", "too_fast": "too fast", "straight_lining": "straight-lining",
             "drift": "drift"}


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def reliability(alpha: Any) -> tuple[str, str]:
    """("reliable" | "tentative" | "not reliable" | "no α", css class) of an α estimate."""
    if not _finite(alpha):
        return "no α", "na"
    if alpha >= RELIABLE:
        return "reliable", "good"
    if alpha >= TENTATIVE:
        return "tentative", "fair"
    return "not reliable", "bad"


def _labels(result: dict[str, Any]) -> dict[str, str]:
    return {str(d["key"]): d.get("label") or str(d["key"]) for d in result.get("rubric") or []}


def _comparison(result: dict[str, Any], dimension: str, a: str, b: str) -> dict[str, Any] | None:
    for entry in result.get("significance") or []:
        if str(entry.get("dimension")) != dimension:
            continue
        for c in entry.get("comparisons", []):
            if {c.get("model_a"), c.get("model_b")} == {a, b}:
                return c
    return None


def _leader(result: dict[str, Any], dim: dict[str, Any]) -> dict[str, Any] | None:
    """The model with the highest mean score on a dimension (single responses only), and whether the
    paired test of the report's significance section calls it better than the runner-up."""
    models = [m for m in dim.get("by_model") or []
              if m.get("model") is not None and " vs " not in str(m["model"]) and _finite(m.get("mean"))]
    if not models:
        return None
    ranked = sorted(models, key=lambda m: -m["mean"])
    top = ranked[0]
    leader = {"model": str(top["model"]), "mean": top["mean"], "ci95": top.get("ci95"), "runner_up": None,
              "significant": None, "p": None, "tested": False, "tied": False}
    if len(ranked) > 1:
        runner = ranked[1]
        leader["runner_up"] = {"model": str(runner["model"]), "mean": runner["mean"]}
        leader["tied"] = math.isclose(runner["mean"], top["mean"], rel_tol=0, abs_tol=1e-9)
        c = _comparison(result, str(dim["dimension"]), leader["model"], str(runner["model"]))
        if c is not None and c.get("verdict"):
            winner = c["model_a"] if c["verdict"] == "A better" else c["model_b"] if c["verdict"] == "B better" else None
            leader.update(tested=True, significant=winner == leader["model"], p=c.get("p_adjusted"))
    return leader


def _boards(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The leader of each Bradley–Terry leaderboard: significant when its 95% rank interval is 1–1."""
    out = []
    for board in result.get("leaderboard") or []:
        models = [m for m in board.get("models", []) if _finite(m.get("rating"))]
        if not models:
            continue
        top = min(models, key=lambda m: (m.get("rank") or math.inf, -m["rating"]))
        ranks = top.get("rank_ci95") or [None, None]
        runner = next((m for m in sorted(models, key=lambda m: -m["rating"]) if m is not top), None)
        out.append({
            "dimension": str(board.get("dimension")), "label": board.get("label") or board.get("dimension"),
            "anchor": f"leaderboard-{slugify(str(board.get('dimension')))}", "model": top["model"],
            "rating": top["rating"], "ci95": top.get("ci95"), "rank_ci95": ranks,
            "significant": ranks[0] == 1 and ranks[1] == 1 if runner is not None else None,
            "runner_up": {"model": runner["model"], "rating": runner["rating"]} if runner else None,
        })
    return out


def report_summary(result: dict[str, Any] | None) -> dict[str, Any]:
    """The summary strip's contents from a stored report result (``{}`` for no result)."""
    if not result:
        return {}
    labels = _labels(result)
    dims, raisers = [], []
    for dim in result.get("dimensions") or []:
        key = str(dim["dimension"])
        alpha = (dim.get("krippendorff_alpha") or {})
        verdict, css = reliability(alpha.get("value"))
        interval = alpha.get("ci95")
        spans = None
        if interval and len(interval) == 2 and all(_finite(x) for x in interval):
            low, high = reliability(interval[0])[0], reliability(interval[1])[0]
            spans = f"{low} to {high}" if low != high else None
        dims.append({
            "key": key, "label": labels.get(key, key), "anchor": f"dim-{slugify(key)}", "alpha": alpha.get("value"),
            "ci95": interval, "verdict": verdict, "css": css, "spans": spans,
            "reason": alpha.get("reason") or "", "n_raters": dim.get("n_raters"), "leader": _leader(result, dim),
        })
        for r in dim.get("raters") or []:
            without, value = r.get("alpha_without"), alpha.get("value")
            if _finite(without) and _finite(value) and without - value > ALPHA_RISE:
                raisers.append({"rater": r["rater"], "dimension": labels.get(key, key), "alpha_without": without,
                                "alpha": value})
    quality = result.get("quality") or {}
    flagged = [
        {"rater": card["rater"], "flags": [FLAG_TEXT.get(f, f) for f in card.get("flags", [])]}
        for card in quality.get("raters") or [] if card.get("flags")
    ]
    return {
        "dimensions": dims, "boards": _boards(result), "flagged": flagged, "raisers": raisers,
        "n_adjudication": quality.get("n_flagged_tasks") if quality else None,
        "threshold": (quality.get("settings") or {}).get("adjudication_threshold") if quality else None,
        "thresholds": {"reliable": RELIABLE, "tentative": TENTATIVE},
        "has_quality": bool(quality),
    }
