"""``manage.py agreement FILE``: the agreement report of a CSV / JSONL ratings file, without a database.

Columns (CSV) or keys (JSONL): item_id, rater, value, and optionally dimension and model.  Prints the
``evalplatform.stats.summary.summarize`` report as JSON or as text tables.  Bad input exits with
status 2 and a one-line message naming the line (and field).  ``--judge RATER`` (repeatable) names an
automated judge among the raters: it is left out of the agreement figures and calibrated against the
other raters under a top-level ``judges`` key, in the shape of the stored report's.

Interval and ratio dimensions (``--level``) carry an ``icc`` key: the six Shrout & Fleiss forms, each
with ``value``, ``ci95`` and a plain ``reading``, on units rated by every rater (how many were left
out is in ``n_units_dropped``).  ``--icc`` adds it to ordinal dimensions too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evalplatform.stats.icc import ICC_FORMS
from evalplatform.stats.judge_summary import judges_report, without_raters
from evalplatform.stats.matrix import LEVELS, RatingDataError
from evalplatform.stats.readers import read_ratings
from evalplatform.stats.summary import summarize

COEFFICIENTS = (
    ("krippendorff_alpha", "Krippendorff's alpha"),
    ("cohen_kappa", "Cohen's kappa"),
    ("fleiss_kappa", "Fleiss' kappa"),
    ("percent_agreement", "Percent agreement"),
    ("gwet_ac1", "Gwet's AC1"),
)


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _ci(ci: list[float] | None, digits: int = 3) -> str:
    return "" if not ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _coefficient_rows(dim: dict[str, Any]) -> list[list[str]]:
    rows = [["coefficient", "value", "95% CI", "note"]]
    for key, title in COEFFICIENTS:
        c = dim[key]
        value = c.get("mean") if key == "cohen_kappa" else c.get("value")
        if key == "cohen_kappa":
            title = f"{title} ({c['weights'] or 'unweighted'}, mean of {len(c['pairs'])} pairs)"
        if key == "gwet_ac1":
            title = f"Gwet's AC2 ({c['weights']})" if c.get("weights") else title
        note = c.get("reason") or c.get("ci_reason") or c.get("note") or ""
        rows.append([title, _num(value), _ci(c.get("ci95")), note])
    return rows


def _icc_lines(icc: dict[str, Any]) -> list[str]:
    rows = [["ICC form", "value", "95% CI", "reading"]]
    for form in ICC_FORMS:
        entry = icc[form]
        rows.append([f"{form} ({entry['description']})", _num(entry["value"]), _ci(entry["ci95"]), entry["reading"]])
    head = (f"  ICC on {icc['n_units_used']} complete units ({icc['n_units_dropped']} with missing ratings left "
            f"out), {icc['n_raters']} raters" + (f": {icc['reason']}" if icc.get("reason") else ""))
    return [head, *_table(rows)]


def render_table(report: dict[str, Any]) -> str:
    """The report as plain-text tables, one block per dimension."""
    out: list[str] = []
    for dim in report["dimensions"]:
        out.append(f"Dimension {dim['dimension']}: {dim['level']}, {dim['n_units']} units, "
                   f"{dim['n_raters']} raters, {dim['n_ratings']} ratings")
        out += _table(_coefficient_rows(dim))
        if dim["by_model"]:
            out.append("")
            rows = [["model", "n", "mean", "95% CI", "median", "95% CI", "distribution"]]
            for m in dim["by_model"]:
                dist = " ".join(f"{k}:{v}" for k, v in m["distribution"].items())
                rows.append([str(m["model"] if m["model"] is not None else "(all)"), str(m["n"]), _num(m["mean"]),
                             _ci(m["ci95"]), _num(m["median"]), _ci(m["median_ci95"]), dist])
            out += _table(rows)
        if dim["raters"]:
            out.append("")
            rows = [["rater", "items", "alpha without", "mean offset", "kappa with others"]]
            for r in dim["raters"]:
                kappas = " ".join(f"{o}:{_num(v, 2)}" for o, v in r["kappa_with"].items())
                rows.append([str(r["rater"]), str(r["n_items"]), _num(r["alpha_without"]),
                             _num(r["mean_offset"]), kappas])
            out += _table(rows)
        if dim.get("icc"):
            out.append("")
            out += _icc_lines(dim["icc"])
        if dim["most_disagreed"]:
            out.append("")
            rows = [["most disagreed item", "model", "disagreement", "ratings"]]
            for u in dim["most_disagreed"]:
                values = " ".join(f"{k}:{v}" for k, v in u["values"].items())
                rows.append([str(u["item_id"]), "" if u["model"] is None else str(u["model"]),
                             _num(u["disagreement"]), values])
            out += _table(rows)
        out.append("")
    params = report["parameters"]
    out.append(f"Intervals: percentile bootstrap, {params['bootstrap']} resamples of units, seed {params['seed']}.")
    return "\n".join(out)


def _signed(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:+.2f}"


def render_judges(judges: list[dict[str, Any]]) -> str:
    """The ``judges`` key as text: per judge and dimension, the verdict, the figures, the panel, the gaps."""
    out: list[str] = []
    for judge in judges:
        for dim in judge["dimensions"]:
            offset = dim["offset"]
            out.append(f"Judge {judge['rater']} on {dim['dimension']}: {dim['level']}, {dim['n_judge_ratings']} "
                       f"ratings, {dim['n_common']} units with a human consensus, {dim['n_humans']} humans")
            out.append(f"  The judge {dim['verdict']}." if dim["verdict"] else
                       f"  No verdict: {dim['kappa_gap']['reason'] or 'too few units or no bootstrap'}.")
            weights = "quadratic-weighted" if dim["kappa_weights"] == "quadratic" else "unweighted"
            rows = [["figure", "value", "95% CI"]]
            for title, est, shown in (
                (f"kappa vs human consensus ({weights})", dim["judge_kappa"], _num),
                ("alpha of the humans", dim["alpha_humans"], _num),
                ("alpha of humans + judge", dim["alpha_with_judge"], _num),
                ("Spearman vs human mean", dim["spearman"], _num),
                (f"mean offset vs human mean ({offset['direction'] or 'n/a'})", offset, _signed),
                ("judge kappa - typical human kappa", dim["kappa_gap"], _signed),
            ):
                ci = est["ci95"]
                rows.append([title, shown(est["value"]), "" if None in ci else _ci(ci)])
            out += _table(rows)
            if dim["human_kappas"]:
                out.append("")
                rows = [["human", "units", "kappa vs the others", "judge vs the same panel"]]
                rows += [[str(h["rater"]), str(h["n_units"]), _num(h["kappa"]), _num(h["judge_kappa"])]
                         for h in dim["human_kappas"]]
                out += _table(rows)
            if dim["disagreements"]:
                out.append("")
                rows = [["largest disagreement", "model", "judge", "humans' consensus", "gap"]]
                rows += [[str(d["item_id"]), "" if d["model"] is None else str(d["model"]), str(d["judge"]),
                          str(d["consensus"]), _signed(d["gap"])] for d in dim["disagreements"]]
                out += _table(rows)
            out.append("")
    return "\n".join(out)


class Command(BaseCommand):
    help = "Inter-rater agreement report of a CSV or JSONL ratings file (item_id, rater, value[, dimension, model])."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV or JSONL (.jsonl/.ndjson) file of ratings")
        parser.add_argument("--level", choices=LEVELS, default=None,
                            help="level of measurement for every dimension (default: ordinal for numbers, "
                                 "nominal for labels)")
        parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0 = no intervals)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
        parser.add_argument("--scale", default=None,
                            help="comma-separated full scale for every dimension, e.g. 1,2,3,4,5")
        parser.add_argument("--format", choices=("json", "table"), default="json")
        parser.add_argument("--icc", action="store_true",
                            help="intraclass correlations for ordinal dimensions too (interval and ratio always)")
        parser.add_argument("--judge", action="append", default=[], dest="judges", metavar="RATER",
                            help="an automated judge among the raters: calibrated against the others under "
                                 "'judges', left out of the agreement figures (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file", returncode=2)
        if options["bootstrap"] < 0:
            raise CommandError("--bootstrap must be 0 or more", returncode=2)
        scale = None
        if options["scale"]:
            parts = [p.strip() for p in options["scale"].split(",") if p.strip()]
            try:
                scale = [float(p) for p in parts]
            except ValueError:
                scale = parts
        try:
            ratings = read_ratings(path)
            scales = {str(d): scale for d in ratings.dimension.labels} if scale is not None else None
            judges = options["judges"]
            report = summarize(without_raters(ratings, judges) if judges else ratings, level=options["level"],
                               scales=scales, bootstrap=options["bootstrap"], seed=options["seed"],
                               icc=options["icc"])
            if judges:
                report["judges"] = judges_report(ratings, judges, level=options["level"], scales=scales,
                                                 bootstrap=options["bootstrap"], seed=options["seed"])
        except RatingDataError as exc:
            raise CommandError(f"{path}: {exc}", returncode=2) from None
        except (OSError, ValueError) as exc:
            raise CommandError(f"{path}: {' '.join(str(exc).split())}", returncode=2) from None
        if options["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2, allow_nan=False, ensure_ascii=False))
        else:
            self.stdout.write(render_table(report))
            if report.get("judges"):
                self.stdout.write("\n" + render_judges(report["judges"]))
