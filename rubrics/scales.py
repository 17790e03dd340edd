"""A rubric version compiled for checking values: what each dimension accepts and how to read it.

Submissions, imports and the API all turn raw input into stored values here, so "value off the
scale" means the same everywhere and the message names the dimension and its scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evalplatform.input_rules import TEXT_ANSWER_MAX, text_problem
from rubrics.models import Dimension, RubricVersion
from rubrics.selectors import once_per_published_version

#: On a pair task these kinds of question are asked of each response (``Score.response``); a
#: preference, and free text, are asked once of the pair.
PER_RESPONSE_KINDS = ("likert", "binary", "categorical")
SIDES = ("a", "b")  # the suffix of a per-response key, as the rater saw the pair: "accuracy.a"


def asked_per_response(kind: str, *, pair: bool) -> bool:
    """Whether a question of this kind is answered once per response (``accuracy.a``, ``accuracy.b``)."""
    return pair and kind in PER_RESPONSE_KINDS


_TRUE = {"1", "yes", "y", "true", "t"}
_FALSE = {"0", "no", "n", "false", "f"}


@dataclass(frozen=True)
class Scale:
    key: str
    label: str
    kind: str
    level: str
    required: bool
    dimension_id: int
    values: tuple[int, ...]
    labels: dict[int, str]

    @property
    def is_text(self) -> bool:
        return self.kind == Dimension.Kind.TEXT

    def describe(self) -> str:
        if self.kind in (Dimension.Kind.CATEGORICAL, Dimension.Kind.BINARY):
            return "one of " + ", ".join(f"{v} ({self.labels[v]})" for v in self.values)
        return f"a whole number from {self.values[0]} to {self.values[-1]}"

    def coerce(self, raw: Any) -> int | str:
        """The stored form of ``raw`` for this dimension, or ``ValueError`` saying why not."""
        if self.is_text:
            if not isinstance(raw, str):
                raise ValueError(f"{self.key}: expects text")
            if "\x00" in raw:
                raise ValueError(f"{self.key}: the text contains a NUL character, which cannot be stored")
            problem = text_problem(raw, limit=TEXT_ANSWER_MAX)
            if problem:
                raise ValueError(f"{self.key}: {problem}")
            return raw
        value = self._as_int(raw)
        if value not in self.labels:
            raise ValueError(f"{self.key}: {raw!r} is off the scale; expected {self.describe()}")
        return value

    def _as_int(self, raw: Any) -> int:
        if isinstance(raw, bool):
            if self.kind == Dimension.Kind.BINARY:
                return int(raw)
            raise ValueError(f"{self.key}: {raw!r} is not a value of this scale; expected {self.describe()}")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float):
            if raw.is_integer():
                return int(raw)
            raise ValueError(f"{self.key}: {raw!r} is off the scale; expected {self.describe()}")
        if isinstance(raw, str):
            text = raw.strip()
            try:
                number = float(text)
            except ValueError:
                pass
            else:
                if number.is_integer():
                    return int(number)
                raise ValueError(f"{self.key}: {raw!r} is off the scale; expected {self.describe()}")
            lowered = text.lower()
            if self.kind == Dimension.Kind.BINARY:
                if lowered in _TRUE:
                    return 1
                if lowered in _FALSE:
                    return 0
            for value, label in self.labels.items():
                if label.lower() == lowered:
                    return value
            if self.kind == Dimension.Kind.PAIRWISE:
                k = self.values[-1]
                alias = {"a": -k if k == 1 else None, "b": k if k == 1 else None, "tie": 0, "=": 0}.get(lowered)
                if alias is not None:
                    return alias
            raise ValueError(f"{self.key}: {raw!r} is not a value of this scale; expected {self.describe()}")
        raise ValueError(f"{self.key}: {raw!r} is not a value of this scale; expected {self.describe()}")


_cache: dict[tuple[int, datetime], dict[str, Scale]] = {}


def scales_for(version: RubricVersion | int) -> dict[str, Scale]:
    """Each dimension's ``Scale`` by key, in rubric order; compiled once per process for a published
    version (``selectors.once_per_published_version``)."""
    return once_per_published_version(_cache, version, _compile)


def _compile(version_id: int) -> dict[str, Scale]:
    scales: dict[str, Scale] = {}
    for dim in Dimension.objects.filter(version_id=version_id).prefetch_related("levels").order_by("position", "id"):
        levels = list(dim.levels.all())
        scales[dim.key] = Scale(
            key=dim.key, label=dim.label, kind=dim.kind, level=dim.level, required=dim.required,
            dimension_id=dim.pk, values=tuple(lv.value for lv in levels), labels={lv.value: lv.label for lv in levels},
        )
    return scales
