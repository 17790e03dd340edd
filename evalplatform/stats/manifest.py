"""What a report needs to prove itself: the exact ratings, the software, and an independent check.

``ratings_csv`` writes long-format ratings (item_id, rater, dimension, value, model) as the bytes the
report's ratings download holds and the ``agreement`` command reads back; ``ratings_sha256`` is the
SHA-256 of those bytes, so ``sha256sum`` on the download checks it.  ``software_versions`` names the
packages the figures came from.  ``alpha_crosscheck`` recomputes every dimension's Krippendorff's
alpha with the ``krippendorff`` package (Castro's implementation, independent of ours) and reports the
largest absolute difference.  Pure: no Django.
"""

from __future__ import annotations

import csv
import hashlib
import io
import platform
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalplatform.stats.jsonable import label_key

RATING_COLUMNS = ("item_id", "rater", "dimension", "value", "model")
PACKAGES = ("evalplatform", "numpy", "scipy", "statsmodels", "krippendorff", "Django")


def _cell(value: Any) -> Any:
    """Whole numbers without ".0", so the file reads like the platform's own exports."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return "" if value is None else value


def ratings_csv(rows: Iterable[Sequence[Any]]) -> str:
    """Long-format rows ``(item_id, rater, dimension, value, model)`` as CSV text, in the given order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RATING_COLUMNS)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def _field(value: Any) -> str:
    """``value`` as ``ratings_csv`` writes it in a row (quoted where the csv module quotes it)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([_cell(value), "x"])
    return out.getvalue()[: -len(",x\n")]


def ratings_csv_codes(columns: Sequence[tuple[NDArray[np.int64], Sequence[Any]]]) -> str:
    """``ratings_csv`` of rows given as factor columns, ``(codes, labels)`` each in ``RATING_COLUMNS``
    order: the same text, without a Python object per row.  Each distinct combination of the last
    four columns (few: raters x dimensions x values x models) is written once and every line is its
    item followed by that combination."""
    header = ",".join(RATING_COLUMNS) + "\n"
    (first, first_labels), rest = columns[0], columns[1:]
    if first.size == 0:
        return header
    key = np.zeros(first.size, dtype=np.int64)
    for codes, labels in rest:
        key = key * max(len(labels), 1) + codes
    combos, inverse = np.unique(key, return_inverse=True)
    parts = []
    for _, labels in reversed(rest):
        size = max(len(labels), 1)
        parts.append([_field(labels[c]) for c in (combos % size).tolist()])
        combos = combos // size
    tails = ["," + ",".join(fields) + "\n" for fields in zip(*reversed(parts), strict=True)]
    lines: list[str | None] = [None] * (2 * first.size)
    lines[0::2] = np.asarray([_field(label) for label in first_labels], dtype=object)[first].tolist()
    lines[1::2] = np.asarray(tails, dtype=object)[inverse.reshape(-1)].tolist()
    return header + "".join(lines)  # type: ignore[arg-type]  # every slot is filled above


def ratings_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def software_versions() -> dict[str, str | None]:
    """Python and the packages behind the figures (None for one that is not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def alpha_crosscheck(ratings: Any, dimensions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each dimension's alpha recomputed with ``krippendorff.alpha`` on the same units, level and scale.

    ``ratings``: the ``LongRatings`` the report was computed from; ``dimensions``: the report's entries
    (``summarize``'s), whose ``level`` and ``scale`` are used.  Returns per dimension our value, the
    package's and |Δ|, and ``max_abs_diff`` over the dimensions where both are defined.
    """
    import krippendorff

    from evalplatform.stats.summary import Pivot, dimension_rows

    rows_of = {label_key(name): rows for name, rows in dimension_rows(ratings)}
    out: list[dict[str, Any]] = []
    for dim in dimensions:
        key = label_key(dim["dimension"])
        ours = dim["krippendorff_alpha"]["value"]
        entry: dict[str, Any] = {"dimension": dim["dimension"], "ours": ours, "krippendorff": None, "abs_diff": None}
        rows = rows_of.get(key)
        if rows is None:
            entry["reason"] = "no ratings"
            out.append(entry)
            continue
        pv = Pivot(ratings, rows, key, dim["level"], dim.get("scale"))
        coded = pv.coded
        if coded.numeric:
            values = np.asarray(coded.domain, dtype=float)
            matrix = np.where(coded.codes >= 0, values[np.maximum(coded.codes, 0)], np.nan)
            domain: Any = values
        else:  # labels: the package codes them itself; pass their positions in our order
            matrix = np.where(coded.codes >= 0, coded.codes.astype(float), np.nan)
            domain = np.arange(len(coded.domain), dtype=float)
        try:
            with np.errstate(divide="ignore", invalid="ignore"):  # a constant dimension: 0/0, reported as None
                theirs = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=pv.level,
                                                  value_domain=domain))
        except (ValueError, ZeroDivisionError) as exc:
            entry["reason"] = f"krippendorff.alpha refused: {exc}"
            out.append(entry)
            continue
        entry["krippendorff"] = theirs if np.isfinite(theirs) else None
        if ours is not None and entry["krippendorff"] is not None:
            entry["abs_diff"] = abs(ours - theirs)
        out.append(entry)
    diffs = [e["abs_diff"] for e in out if e["abs_diff"] is not None]
    return {"package": "krippendorff", "dimensions": out, "max_abs_diff": max(diffs) if diffs else None,
            "n_checked": len(diffs)}


__all__ = ["RATING_COLUMNS", "alpha_crosscheck", "ratings_csv", "ratings_csv_codes", "ratings_sha256", "software_versions"]
