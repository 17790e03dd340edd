"""Levels of measurement (Stevens 1946; Krippendorff 2011): what differences between values mean.

A module of its own so that the command line can offer them without loading the engine (``matrix``
re-exports them).
"""

from __future__ import annotations

from typing import Literal

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weighting = Literal["linear", "quadratic"] | None
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")
