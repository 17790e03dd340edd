"""Plain Python values for the JSON the statistics return.

Results are stored as JSON and checked with ``json.dumps(..., allow_nan=False)``: a number is a finite
Python float or None (undefined), and a label (a model, a rater, a scale value) is a Python scalar,
never a numpy one.  Every ``to_dict`` here and every report section built on them goes through these.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def finite(x: Any) -> float | None:
    """``x`` as a plain float, or None for None, NaN and ±inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def rounded(x: Any, digits: int = 6) -> float | None:
    """``finite(x)`` rounded to ``digits`` decimal places (report sections store their figures so)."""
    value = finite(x)
    return None if value is None else round(value, digits)


def plain(x: Any) -> Any:
    """A numpy scalar as the Python scalar it holds; anything else as it is."""
    return x.item() if isinstance(x, np.generic) else x


def label_value(x: Any) -> Any:
    """``plain(x)``, with a whole float as an int: a label read as 3.0 is shown and keyed as 3."""
    x = plain(x)
    return int(x) if isinstance(x, float) and x.is_integer() else x


def label_key(x: Any) -> str:
    """The text a label is keyed by in results (``"3"``, ``"alice"``)."""
    return str(label_value(x))


def jsonable(x: Any) -> Any:
    """``x`` with every numpy value made plain, recursively: arrays, lists and tuples as lists, dict
    values converted, a number as ``finite`` gives it (NaN and ±inf as None), a numpy integer or bool
    as the Python one.  An integral float stays a float (a category value 3.0 is not the count 3)."""
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, float | np.floating):
        return finite(x)
    if isinstance(x, np.integer | np.bool_):
        return x.item()
    return x
