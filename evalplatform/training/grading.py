"""Comparing a training answer with the expected one, and grading an attempt: no queries here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rubrics.models import Dimension
from rubrics.scales import Scale


def is_ordered(scale: Scale) -> bool:
    """Whether "off by n points" means something: likert and preference scales not declared nominal."""
    return scale.kind in (Dimension.Kind.LIKERT, Dimension.Kind.PAIRWISE) and scale.level != Dimension.Level.NOMINAL


def within(scale: Scale, expected: int, given: Any, tolerance: int) -> bool:
    """``given`` counts as the expected answer: within ``tolerance`` scale points on an ordered scale,
    exactly equal on a nominal one (yes/no, categorical)."""
    if not isinstance(given, int) or isinstance(given, bool):
        return False
    if is_ordered(scale):
        return abs(given - expected) <= tolerance
    return given == expected


def base_key(answer_key: str) -> str:
    """The dimension an answer key is about: ``accuracy.a`` -> ``accuracy``."""
    return answer_key.partition(".")[0]


@dataclass(frozen=True)
class Grade:
    n_scored: int
    n_correct: int
    by_dimension: dict[str, dict[str, float | int]]
    passed: bool

    @property
    def share(self) -> float | None:
        return self.n_correct / self.n_scored if self.n_scored else None


def grade(corrects: Iterable[Mapping[str, bool]], *, pass_mark: float, per_dimension: bool) -> Grade:
    """Grade an attempt from each answer's ``{answer key: correct}``.

    Passed when the share of correct answers over all compared answers reaches ``pass_mark`` and, with
    ``per_dimension``, each dimension's share does too.  An attempt with nothing to compare passes
    (the items only had explanations).
    """
    counts: dict[str, list[int]] = {}
    for correct in corrects:
        for key, ok in correct.items():
            tally = counts.setdefault(base_key(key), [0, 0])
            tally[0] += 1
            tally[1] += int(bool(ok))
    n_scored = sum(n for n, _ in counts.values())
    n_correct = sum(c for _, c in counts.values())
    by_dimension = {key: {"n": n, "correct": c, "share": c / n} for key, (n, c) in counts.items()}
    passed = n_scored == 0 or n_correct / n_scored >= pass_mark - 1e-9
    if per_dimension:
        passed = passed and all(d["share"] >= pass_mark - 1e-9 for d in by_dimension.values())
    return Grade(n_scored, n_correct, by_dimension, passed)
