"""The release gate: is the challenger worse than the champion on any dimension, the composite, or a
subgroup?  ``manage.py gate`` and ``GET /api/suites/{id}/gate/`` both call ``run_gate``.

A side is written ``MODEL@ROUND`` (a model in a round: number or project slug), ``MODEL`` (the model
in the newest round that has it) or ``@ROUND`` (the round's only model; anchor copies do not count).
The two sides are paired on the items both rated (same external id); each side's score of an item is
the mean of its raters' scores.  The statistics are ``evalplatform.stats.gate``: one-sided Wilcoxon
signed-rank tests against the non-inferiority margin, Holm across every test the gate makes.

The work is a few set-based reads and a bootstrap over a few thousand numbers: it answers within a
request (measured in the closing note), unlike a report, which a worker computes.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalplatform.stats.composite import composite_scores
from evalplatform.stats.gate import GateResult, decide
from evalplatform.suites.models import Round, Suite
from evalplatform.suites.selectors import RoundScores, round_scores, rounds_of, subgroup_fields

COMPOSITE = "composite"
FORMATS = ("text", "json", "junit", "markdown")


SEED_MAX = 2**32 - 1  # numpy's generators take larger seeds, but not negative ones; one word is plenty


class GateInputError(ValueError):
    """Bad input or too little data: the gate exits 2 and prints this."""


@dataclass(frozen=True)
class Side:
    round: Round
    model: str

    @property
    def label(self) -> str:
        return f"{self.model}@{self.round.number}"


def parse_margins(values: Sequence[str] | None) -> tuple[float, dict[str, float]]:
    """``--margin 0.2`` (every dimension) and ``--margin tone=0.3`` (one): (default, per dimension)."""
    default = 0.0
    per_dim: dict[str, float] = {}
    for raw in values or ():
        key, _, number = str(raw).rpartition("=")
        try:
            value = float(number)
        except ValueError:
            raise GateInputError(f"margin {raw!r}: expected a number or DIMENSION=NUMBER") from None
        if not (math.isfinite(value) and value >= 0):
            raise GateInputError(f"margin {raw!r}: must be a number >= 0")
        if key:
            per_dim[key] = value
        else:
            default = value
    return default, per_dim


def _find_round(rounds: list[Round], ref: str) -> Round:
    for r in rounds:
        if ref == str(r.number) or ref == r.project.slug:
            return r
    known = ", ".join(f"{r.number} ({r.project.slug})" for r in rounds)
    raise GateInputError(f"no round {ref!r} in this suite; rounds: {known}")


def resolve(suite: Suite, spec: str, scores: dict[int, RoundScores]) -> Side:
    """The (round, model) that ``spec`` names (see the module); ``scores`` caches rounds already read."""
    spec = (spec or "").strip()
    if not spec:
        raise GateInputError("champion and challenger are required (MODEL, MODEL@ROUND or @ROUND)")
    rounds = rounds_of(suite)
    if not rounds:
        raise GateInputError(f"suite {suite.slug!r} has no rounds")

    def read(r: Round) -> RoundScores:
        if r.pk not in scores:
            scores[r.pk] = round_scores(r)
        return scores[r.pk]

    model, at, ref = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if at:
        round_ = _find_round(rounds, ref)
        models = read(round_).models
        if not model:
            if len(models) != 1:
                raise GateInputError(f"round {round_.number} has {len(models)} models ({', '.join(models) or 'none'}): "
                                     f"name one as MODEL@{ref}")
            return Side(round_, models[0])
        if model not in models:
            raise GateInputError(f"round {round_.number} has no scored model {model!r}; it has: {', '.join(models) or 'none'}")
        return Side(round_, model)
    for round_ in reversed(rounds):
        if model in read(round_).models:
            return Side(round_, model)
    raise GateInputError(f"no round of suite {suite.slug!r} has scores for model {model!r}")


@dataclass(frozen=True)
class GateReport:
    suite: Suite
    champion: Side
    challenger: Side
    items: int
    result: GateResult
    composite_weights: dict[str, float]

    @property
    def exit_code(self) -> int:
        return self.result.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite.slug,
            "champion": {"model": self.champion.model, "round": self.champion.round.number,
                         "project": self.champion.round.project.slug},
            "challenger": {"model": self.challenger.model, "round": self.challenger.round.number,
                           "project": self.challenger.round.project.slug},
            "shared_items": self.items,
            "composite_weights": self.composite_weights,
            **self.result.to_dict(),
        }


def run_gate(
    *, suite: Suite, champion: str, challenger: str, dimensions: Sequence[str] | None = None,
    margins: Sequence[str] | None = None, alpha: float = 0.05, bootstrap: int = 2000, seed: int = 0,
    min_items: int = 10, subgroups: Sequence[str] | None = None,
) -> GateReport:
    """The verdict of challenger against champion; ``GateInputError`` for bad input (exit 2).

    ``subgroups`` names the metadata fields to test by (default: every field with 2..20 values over
    the shared items; ``[]``: none).  Fewer fields mean fewer tests in the Holm family, so more power
    on the ones that matter.
    """
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise GateInputError(f"alpha must lie strictly between 0 and 1 (got {alpha!r})")
    if not 0 <= bootstrap <= 20000:
        raise GateInputError("bootstrap must be between 0 and 20000 resamples")
    if min_items < 2:
        raise GateInputError("min_items must be at least 2")
    if not 0 <= seed <= SEED_MAX:
        raise GateInputError(f"seed must be between 0 and {SEED_MAX}")
    default_margin, per_dim = parse_margins(margins)
    cache: dict[int, RoundScores] = {}
    a_side, b_side = resolve(suite, champion, cache), resolve(suite, challenger, cache)
    if a_side == b_side:
        raise GateInputError(f"champion and challenger are the same ({a_side.label})")
    a, b = cache[a_side.round.pk], cache[b_side.round.pk]
    shared_dims = [k for k, d in b.dimensions.items() if d.numeric and k in a.dimensions and a.dimensions[k].numeric]
    weights = {k: float(d.weight) for k, d in b.dimensions.items() if d.weight and k in shared_dims}
    known = [*shared_dims, *([COMPOSITE] if weights else [])]
    wanted = list(dict.fromkeys(dimensions or known))
    unknown = [d for d in wanted if d not in known]
    if unknown:
        raise GateInputError(f"unknown or non-numeric dimension(s): {', '.join(unknown)}; the gate knows: {', '.join(known)}")
    bad_margin = [k for k in per_dim if k not in known]
    if bad_margin:
        raise GateInputError(f"margin for unknown dimension(s): {', '.join(bad_margin)}")
    a_means = {k: a.item_means(a_side.model, k) for k in shared_dims}
    b_means = {k: b.item_means(b_side.model, k) for k in shared_dims}
    items = sorted({i for m in a_means.values() for i in m} & {i for m in b_means.values() for i in m})
    if len(items) < min_items:
        raise GateInputError(
            f"{a_side.label} and {b_side.label} share {len(items)} rated items; the gate needs at least {min_items}"
        )

    def arrays(means: dict[str, dict[str, float]], side: RoundScores) -> dict[str, np.ndarray]:
        out = {k: np.array([means[k].get(i, np.nan) for i in items]) for k in shared_dims}
        if weights:
            ranges = {k: (side.dimensions[k].scale[0], side.dimensions[k].scale[-1]) for k in weights}
            out[COMPOSITE] = composite_scores(out, weights, ranges)
        return {k: v for k, v in out.items() if k in wanted}

    champ, chall = arrays(a_means, a), arrays(b_means, b)
    metadata = {**a.metadata, **b.metadata}
    groups = subgroup_fields(metadata, items)
    if subgroups is not None:
        unknown_fields = [f for f in subgroups if f not in groups]
        if unknown_fields:
            raise GateInputError(f"no metadata field with 2 to 20 values named {', '.join(unknown_fields)}; "
                                 f"fields: {', '.join(groups) or 'none'}")
        groups = {f: groups[f] for f in subgroups}
    margin_of = {k: per_dim.get(k, 0.0 if k == COMPOSITE else default_margin) for k in wanted}
    result = decide(champ, chall, groups=groups, margins=margin_of, alpha=float(alpha), n_boot=bootstrap, seed=seed,
                    min_items=min_items, min_subgroup_items=suite.min_subgroup_items)
    return GateReport(suite, a_side, b_side, len(items), result, weights)


# --- output formats ----------------------------------------------------------------------------


def render(report: GateReport, fmt: str) -> str:
    if fmt not in FORMATS:
        raise GateInputError(f"format must be one of {', '.join(FORMATS)}")
    if fmt == "json":
        import json

        return json.dumps(report.to_dict(), indent=2)
    if fmt == "junit":
        return _junit(report)
    if fmt == "markdown":
        return _markdown(report)
    return _text(report)


def _num(x: Any, spec: str = ".3f") -> str:
    return "—" if x is None else format(x, spec)


def _headline(report: GateReport) -> str:
    r = report.result
    return (f"gate {r.verdict.upper()} (exit {r.exit_code}): challenger {report.challenger.label} vs champion "
            f"{report.champion.label} on {report.items} shared items, suite {report.suite.slug}, alpha {r.alpha:g}")


def _text(report: GateReport) -> str:
    lines = [_headline(report), ""]
    lines += [f"  - {reason}" for reason in report.result.reasons]
    lines.append("")
    lines.append(f"  {'test':<34} {'n':>4} {'champ':>7} {'chall':>7} {'diff':>7} {'95% CI':>17} {'p(Holm)':>9}  ")
    for t in report.result.tests:
        ci = f"{_num(t.ci95[0], '+.2f')}..{_num(t.ci95[1], '+.2f')}"
        flag = "REGRESSED" if t.regressed else ""
        lines.append(f"  {t.label:<34} {t.n_pairs:>4} {_num(t.mean_champion):>7} {_num(t.mean_challenger):>7} "
                     f"{_num(t.mean_diff, '+.3f'):>7} {ci:>17} {_num(t.p_adjusted, '.3g'):>9}  {flag}")
    if report.result.skipped:
        lines.append("")
        lines.append(f"  not tested (too few items): {len(report.result.skipped)} subgroup(s)")
    return "\n".join(lines) + "\n"


def _markdown(report: GateReport) -> str:
    r = report.result
    icon = {"pass": "✅", "fail": "❌"}.get(r.verdict, "⚠️")
    lines = [f"### {icon} {_headline(report)}", ""]
    lines += [f"- {reason}" for reason in r.reasons]
    lines += ["", "| test | n | champion | challenger | difference | 95% CI | margin | p (Holm) | d_z | verdict |",
              "|---|---:|---:|---:|---:|---|---:|---:|---:|---|"]
    for t in r.tests:
        lines.append(
            f"| {t.label} | {t.n_pairs} | {_num(t.mean_champion)} | {_num(t.mean_challenger)} | {_num(t.mean_diff, '+.3f')} "
            f"| {_num(t.ci95[0], '+.2f')} to {_num(t.ci95[1], '+.2f')} | {t.margin:g} | {_num(t.p_adjusted, '.3g')} "
            f"| {_num(t.cohen_dz, '+.2f')} | {'**regressed**' if t.regressed else 'ok'} |"
        )
    return "\n".join(lines) + "\n"


def _junit(report: GateReport) -> str:
    r = report.result
    suite = ET.Element("testsuite", {
        "name": f"evalplatform gate {report.suite.slug}: {report.challenger.label} vs {report.champion.label}",
        "tests": str(len(r.tests) or 1), "failures": str(len(r.regressions)),
        "errors": "1" if r.verdict == "insufficient data" else "0",
    })
    for t in r.tests:
        case = ET.SubElement(suite, "testcase", {"classname": f"gate.{report.suite.slug}", "name": t.label})
        detail = (f"challenger {_num(t.mean_challenger)} vs champion {_num(t.mean_champion)}, difference "
                  f"{_num(t.mean_diff, '+.3f')} (95% CI {_num(t.ci95[0], '+.2f')} to {_num(t.ci95[1], '+.2f')}), "
                  f"margin {t.margin:g}, Holm-adjusted p {_num(t.p_adjusted, '.3g')}, n {t.n_pairs}")
        if t.regressed:
            ET.SubElement(case, "failure", {"message": f"{t.label} regressed", "type": "regression"}).text = detail
        elif t.p_value is None:
            ET.SubElement(case, "error", {"message": t.reason or "not tested", "type": "insufficient"}).text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    out = ET.SubElement(suite, "system-out")
    out.text = "\n".join([_headline(report), *r.reasons])
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def error_output(message: str, fmt: str) -> str:
    """A bad-input answer in the requested format (exit 2)."""
    if fmt == "json":
        import json

        return json.dumps({"verdict": "error", "exit_code": 2, "reasons": [message]}, indent=2)
    if fmt == "junit":
        suite = ET.Element("testsuite", {"name": "evalplatform gate", "tests": "1", "failures": "0", "errors": "1"})
        case = ET.SubElement(suite, "testcase", {"classname": "gate", "name": "input"})
        ET.SubElement(case, "error", {"message": message, "type": "bad-input"}).text = message
        return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
    return f"gate ERROR (exit 2): {message}\n"
