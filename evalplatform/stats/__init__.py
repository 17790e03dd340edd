"""Agreement and aggregate statistics for rating data.

Pure numpy/scipy: nothing here imports Django, so the engine is testable against reference
libraries and usable from a notebook.  Inputs follow the ``krippendorff`` package's orientation:
a (raters x units) float array with NaN for a missing rating.

Public API (see each module):

- ``krippendorff_alpha``, ``fleiss_kappa``, ``percent_agreement``, ``gwet_ac`` (``agreement``) and
  ``cohen_kappa`` (``pairwise_kappa``): coefficients of a (raters x units) matrix, each with an
  optional percentile bootstrap interval (``bootstrap=1000, seed=...``);
- ``summarize`` (``summary``): the JSON report of long-format ratings, per dimension;
- ``read_ratings`` / ``read_csv`` / ``read_jsonl`` / ``from_rows`` (``readers``): long-format input;
- ``mean_and_median``, ``model_aggregates`` (``aggregate``); ``rater_figures``, ``most_disagreed``
  (``raters``).
"""

from __future__ import annotations

import importlib
from typing import Any

# Exported lazily, so importing one module of the package (say ``evalplatform.stats.icc``) does not
# import all of them.
_EXPORTS = {
    "aggregate": ["Aggregate", "mean_and_median", "model_aggregates"],
    "agreement": ["fleiss_kappa", "gwet_ac", "krippendorff_alpha", "percent_agreement"],
    "bootstrap": ["Estimate", "Interval"],
    "matrix": ["LEVELS", "RatingDataError", "code_ratings"],
    "pairwise_kappa": ["CohenKappa", "PairKappa", "cohen_kappa"],
    "raters": ["RaterFigures", "most_disagreed", "rater_figures"],
    "readers": ["LongRatings", "RatingRow", "RowError", "from_columns", "from_rows", "read_csv", "read_jsonl",
                "read_ratings"],
    "summary": ["summarize"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"evalplatform.stats.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'evalplatform.stats' has no attribute {name!r}")
