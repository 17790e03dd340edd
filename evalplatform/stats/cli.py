"""The statistics engine's command line: the agreement report of a CSV / JSONL ratings file.

    python -m evalplatform.stats FILE [--level ...] [--bootstrap N] [--seed S] [--scale 1,2,3,4,5]
                                      [--format json|table] [--icc] [--judge RATER ...]

(also installed as the ``evalplatform-agreement`` script, and shared by ``manage.py agreement``).
No Django, no database, no Celery: it starts in the time numpy takes to import.  Columns (CSV) or keys
(JSONL): item_id, rater, value, and optionally dimension and model.  Prints the
``evalplatform.stats.summary.summarize`` report as JSON or as text tables.  Bad input exits with
status 2 and a one-line message naming the line (and field).  ``--judge RATER`` (repeatable) names an
automated judge among the raters: it is left out of the agreement figures and calibrated against the
other raters under a top-level ``judges`` key, in the shape of the stored report's.

Interval and ratio dimensions (``--level``) carry an ``icc`` key: the six Shrout & Fleiss forms, each
with ``value``, ``ci95`` and a plain ``reading``, on units rated by every rater (how many were left
out is in ``n_units_dropped``).  ``--icc`` adds it to ordinal dimensions too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from evalplatform.stats.levels import LEVELS

HELP = "Inter-rater agreement report of a CSV or JSONL ratings file (item_id, rater, value[, dimension, model])."


class Writer(Protocol):
    def write(self, text: str) -> Any: ...


class UsageError(Exception):
    """Bad input or arguments: the message is one line, the exit status 2."""


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
            by = f" by {c['weighted_by']}" if c.get("weighted_by") else ""
            n_pairs = len(c["pairs"]) if "pairs" in c else c["n_pairs"]
            title = f"{title} ({c['weights'] or 'unweighted'}{by}, mean of {n_pairs} pairs)"
        if key == "fleiss_kappa" and str(c.get("form", "")).startswith("Gwet"):
            title = f"{title} (Gwet's generalisation: ratings per unit vary)"
        if key == "gwet_ac1":
            title = f"Gwet's AC2 ({c['weights']})" if c.get("weights") else title
        note = c.get("reason") or c.get("ci_reason") or c.get("note") or ""
        rows.append([title, _num(value), _ci(c.get("ci95")), note])
    return rows


def _icc_lines(icc: dict[str, Any]) -> list[str]:
    from evalplatform.stats.icc import ICC_FORMS

    rows = [["ICC form", "value", "95% CI", "reading"]]
    for form in ICC_FORMS:
        entry = icc[form]
        rows.append([f"{form} ({entry['description']})", _num(entry["value"]), _ci(entry["ci95"]), entry["reading"]])
    head = (f"  ICC on {icc['n_units_used']} complete units ({icc['n_units_dropped']} with missing ratings left "
            f"out), {icc['n_raters']} raters" + (f": {icc['reason']}" if icc.get("reason") else ""))
    lines = [head, *_table(rows)]
    oneway = icc.get("oneway")
    if oneway and icc.get("design") == "incomplete":
        lines.append(f"  Incomplete design: {icc['forms']['not_given']}.")
        lines.append(f"  One-way forms on {oneway['n_units_used']} units with 2+ ratings "
                     f"(k = {_num(oneway['k'], 2)}, {oneway['k_kind']}); estimator: {oneway['estimator'] or '-'}")
        ow = [["ICC form", "value", "95% CI", "reading"]]
        for form in ("ICC1", "ICC1k"):
            ow.append([form, _num(oneway[form]), _ci(oneway["ci95"][form]), oneway["readings"][form]])
        lines += _table(ow)
    return lines


def render_table(report: dict[str, Any]) -> str:
    """The report as plain-text tables, one block per dimension."""
    out: list[str] = []
    for dim in report["dimensions"]:
        out.append(f"Dimension {dim['dimension']}: {dim['level']}, {dim['n_units']} units, "
                   f"{dim['n_raters']} raters, {dim['n_ratings']} ratings")
        if "scale" in dim:
            source = "inferred from the values present (no --scale)" if dim.get("scale_inferred") else "given"
            out.append(f"  Scale {source}: {', '.join(str(v) for v in dim['scale'])}")
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
                kappas = (" ".join(f"{o}:{_num(v, 2)}" for o, v in r["kappa_with"].items()) if "kappa_with" in r
                          else f"mean {_num(r['kappa_with_others'], 2)} over {r['n_raters_shared']} raters")
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
    check = (report.get("manifest") or {}).get("alpha_crosscheck")
    if check and check.get("max_abs_diff") is not None:
        out.append(f"Alpha cross-checked against the krippendorff package: max |Δ| = {check['max_abs_diff']:.2e} "
                   f"over {check['n_checked']} dimension(s).")
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments (``manage.py agreement`` adds the same to its parser)."""
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
    parser.add_argument("--pairs", action="store_true",
                        help="print every pair of raters: each pair's kappa (cohen_kappa.pairs) and each rater's "
                             "kappa and shared units with every other rater (by default only their count and "
                             "mean, so the report of many raters stays small; always with --manifest)")
    parser.add_argument("--manifest", default=None, metavar="REPORT.json",
                        help="a report (its JSON download) or its manifest: take each dimension's level and "
                             "scale and the bootstrap and seed from it, and check the file against its ratings "
                             "hash, to reproduce the report's figures")
    parser.add_argument("--judge", action="append", default=[], dest="judges", metavar="RATER",
                        help="an automated judge among the raters: calibrated against the others under "
                             "'judges', left out of the agreement figures (repeatable)")


def read_manifest(name: str) -> dict[str, Any]:
    """A manifest from a report document (``result.manifest``), a result (``manifest``) or itself."""
    try:
        doc = json.loads(Path(name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{name}: cannot read the manifest ({' '.join(str(exc).split())})") from None
    result = doc.get("result") if isinstance(doc, dict) else None
    candidates = (result.get("manifest") if isinstance(result, dict) else None,
                  doc.get("manifest") if isinstance(doc, dict) else None, doc)
    for candidate in candidates:
        if isinstance(candidate, dict) and "ratings_sha256" in candidate:
            return candidate
    raise UsageError(f"{name}: no manifest in this file (expected a report's JSON download)")


def report_for(options: dict[str, Any], *, warn: Writer) -> dict[str, Any]:
    """The report of ``options["file"]`` with the parsed arguments; ``UsageError`` for bad input."""
    # Imported here: `--help` and argument errors answer before the readers and coefficients load.
    from evalplatform.stats.manifest import alpha_crosscheck, ratings_sha256, software_versions
    from evalplatform.stats.matrix import RatingDataError
    from evalplatform.stats.readers import read_ratings
    from evalplatform.stats.summary import summarize

    path = Path(options["file"])
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if options["bootstrap"] < 0:
        raise UsageError("--bootstrap must be 0 or more")
    scale = None
    if options["scale"]:
        parts = [p.strip() for p in options["scale"].split(",") if p.strip()]
        try:
            scale = [float(p) for p in parts]
        except ValueError:
            scale = parts
    manifest = read_manifest(options["manifest"]) if options.get("manifest") else None
    levels = None
    digest = ratings_sha256(path.read_bytes().decode("utf-8", errors="replace"))
    if manifest is not None:
        if digest != manifest.get("ratings_sha256"):
            warn.write(f"warning: {path} is not the manifest's ratings (SHA-256 {digest[:12]}… vs "
                       f"{str(manifest.get('ratings_sha256'))[:12]}…); the figures will differ\n")
        params = manifest.get("parameters", {})
        options = {**options, "bootstrap": int(params.get("bootstrap", options["bootstrap"])),
                   "seed": params.get("seed", options["seed"]), "icc": bool(params.get("icc", options["icc"]))}
        levels = {str(k): v for k, v in manifest.get("levels", {}).items()}
    try:
        ratings = read_ratings(path)
        scales = {str(d): scale for d in ratings.dimension.labels} if scale is not None else None
        if manifest is not None:
            scales = {str(k): v for k, v in manifest.get("scales", {}).items()}
        judges = options["judges"]
        if judges:  # the judges' module loads scipy.sparse: only when asked for
            from evalplatform.stats.judge_summary import judges_report, without_raters
        humans = without_raters(ratings, judges) if judges else ratings  # what the dimensions' figures cover
        report = summarize(humans, level=options["level"], levels=levels, scales=scales,
                           bootstrap=options["bootstrap"], seed=options["seed"], icc=options["icc"])
        report["manifest"] = {"ratings_sha256": digest, "parameters": report["parameters"],
                              "software": software_versions(),
                              "alpha_crosscheck": alpha_crosscheck(humans, report["dimensions"])}
        if judges:
            report["judges"] = judges_report(ratings, judges, level=options["level"], scales=scales,
                                             bootstrap=options["bootstrap"], seed=options["seed"])
    except RatingDataError as exc:
        raise UsageError(f"{path}: {exc}") from None
    except MemoryError:
        raise UsageError(f"{path}: not enough memory for this report; try fewer --bootstrap resamples") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: {' '.join(str(exc).split())}") from None
    if not options.get("pairs") and not options.get("manifest"):  # reproducing a report: its whole shape
        for dim in report["dimensions"]:
            without_pairs(dim)
    inferred = [f"{d['dimension']} ({', '.join(str(v) for v in d['scale'])})" for d in report["dimensions"]
                if d.get("scale_inferred")]
    if inferred:
        warn.write(
            "warning: no --scale given, so each dimension's scale was inferred from the values present: "
            + "; ".join(inferred) + ". Rank-weighted kappa, Gwet's AC and the distributions depend on it; "
            "pass --scale to fix it.\n")
    return report


def without_pairs(dim: dict[str, Any]) -> None:
    """Replace a dimension's per-pair figures (raters² of them) by their count and each rater's mean:
    ``cohen_kappa.pairs`` -> ``cohen_kappa.n_pairs``; a rater's ``kappa_with`` and ``shared_units`` ->
    ``kappa_with_others`` (the mean of their defined kappas) and ``n_raters_shared``."""
    cohen = dim["cohen_kappa"]
    cohen["n_pairs"] = len(cohen.pop("pairs", []))
    for rater in dim["raters"]:
        kappas = [v for v in rater.pop("kappa_with", {}).values() if v is not None]
        rater["kappa_with_others"] = sum(kappas) / len(kappas) if kappas else None
        rater["n_raters_shared"] = len(rater.pop("shared_units", {}))


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as the command prints it: JSON, or text tables (and the judges' block)."""
    if fmt == "json":
        return json.dumps(report, indent=2, allow_nan=False, ensure_ascii=False)
    text = render_table(report)
    if report.get("judges"):
        text += "\n\n" + render_judges(report["judges"])
    return text


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None,
         prog: str = "python -m evalplatform.stats") -> int:
    """``python -m evalplatform.stats``: print the report; 0, or 2 with a one-line message on bad input."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog=prog, description=HELP)
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    try:
        report = report_for(options, warn=stderr)
    except UsageError as exc:
        stderr.write(f"error: {exc}\n")
        return 2
    stdout.write(render(report, options["format"]) + "\n")
    return 0
