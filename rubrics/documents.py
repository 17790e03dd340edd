"""Rubrics as files: the JSON/YAML document shape, its validation, and the conversion both ways.

A rubric document lives happily in version control::

    {"slug": "support-quality", "name": "Support quality", "guidelines": "markdown",
     "justification": "optional",
     "dimensions": [
        {"key": "accuracy", "label": "Accuracy", "kind": "likert", "level": "ordinal", "min": 1, "max": 5,
         "required": true, "levels": {"1": "Wrong", "5": {"label": "Fully right", "anchor": "..."}}},
        {"key": "harmless", "kind": "binary", "level": "nominal"},
        {"key": "topic", "kind": "categorical", "options": ["billing", "tech"]},
        {"key": "preference", "kind": "pairwise", "points": 5},
        {"key": "why", "kind": "text", "required": false}]}

Validation collects every problem with its path (``dimensions[2].max``) before anything is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, cast

import yaml

from evalplatform.input_rules import MAX_NESTING, unstorable

KINDS = ("likert", "binary", "categorical", "pairwise", "text")
LEVELS = ("nominal", "ordinal", "interval", "ratio")
JUSTIFICATION = ("none", "optional", "required")
# The longest labels and names the columns hold, and the values a level may take (ScaleLevel.value).
LABEL_MAX = 200
NAME_MAX = 200
VALUE_RANGE = (-2_147_483_648, 2_147_483_647)
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PAIRWISE_LABELS = {
    1: ["A is better", "Tie", "B is better"],
    2: ["A is much better", "A is better", "Tie", "B is better", "B is much better"],
    3: ["A is much better", "A is better", "A is slightly better", "Tie",
        "B is slightly better", "B is better", "B is much better"],
}


class RubricDocumentError(ValueError):
    """A rubric document that cannot be imported; ``errors`` lists every problem with its path."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True)
class LevelSpec:
    value: int
    label: str
    anchor: str = ""


@dataclass(frozen=True)
class DimensionSpec:
    key: str
    label: str
    kind: str
    level: str
    required: bool
    description: str = ""
    levels: tuple[LevelSpec, ...] = field(default_factory=tuple)
    weight: float | None = None  # in the weighted composite (likert and binary dimensions only)


@dataclass(frozen=True)
class RubricSpec:
    slug: str
    name: str
    guidelines: str
    justification: str
    description: str
    dimensions: tuple[DimensionSpec, ...]


def parse_text(text: str, *, filename: str = "") -> dict:
    """Read a JSON or YAML document (YAML with ``safe_load`` only)."""
    try:
        if filename.endswith((".yaml", ".yml")):
            data = yaml.safe_load(text)
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RubricDocumentError([f"the file is neither valid JSON nor valid YAML: {exc}"]) from exc
    except RecursionError as exc:
        raise RubricDocumentError([f"the document is nested more than {MAX_NESTING} levels deep"]) from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        raise RubricDocumentError([f"the file is not a valid document: {str(exc)[:200]}"]) from exc
    if not isinstance(data, dict):
        raise RubricDocumentError(["the document must be an object with slug, name and dimensions"])
    return data


def validate(data: dict[str, Any]) -> RubricSpec:
    """Check a document and turn it into a ``RubricSpec``; raise with every problem found."""
    if not isinstance(data, dict):
        raise RubricDocumentError(["the document must be an object with slug, name and dimensions"])
    problem = unstorable(data)
    if problem is not None:
        raise RubricDocumentError([f"{problem[0] or 'the document'}: {problem[1]}"])
    errors: list[str] = []
    slug = data.get("slug")
    if not isinstance(slug, str) or not KEY_RE.match(slug):
        errors.append("slug: required, lowercase letters, digits, '-' or '_' (at most 64)")
    name = data.get("name") or slug
    if not isinstance(name, str):
        errors.append("name: must be text")
    elif len(name) > NAME_MAX:
        errors.append(f"name: at most {NAME_MAX} characters (got {len(name)})")
    guidelines = data.get("guidelines", "") or ""
    if not isinstance(guidelines, str):
        errors.append("guidelines: must be text (Markdown)")
    justification = data.get("justification", "optional")
    if justification not in JUSTIFICATION:
        errors.append(f"justification: {justification!r} is not one of {', '.join(JUSTIFICATION)}")
    raw_dims = data.get("dimensions")
    dims: list[DimensionSpec] = []
    if not isinstance(raw_dims, list) or not raw_dims:
        errors.append("dimensions: a non-empty list is required")
        raw_dims = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_dims):
        where = f"dimensions[{index}]"
        if not isinstance(raw, dict):
            errors.append(f"{where}: must be an object")
            continue
        key = raw.get("key")
        if isinstance(key, str) and KEY_RE.match(key):
            where = f"dimensions[{index}] ({key})"
            if key in seen:
                errors.append(f"{where}.key: duplicate key {key!r}")
            seen.add(key)
        else:
            errors.append(f"{where}.key: required, lowercase letters, digits, '-' or '_'")
            key = f"dimension-{index}"
        spec = _dimension(raw, key, where, errors)
        if spec is not None:
            dims.append(spec)
    if errors:
        raise RubricDocumentError(errors)
    # No errors: slug and name are text (checked above).
    return RubricSpec(
        slug=cast(str, slug), name=cast(str, name), guidelines=guidelines, justification=justification,
        description=str(data.get("description", "") or ""), dimensions=tuple(dims),
    )


def _dimension(raw: dict, key: str, where: str, errors: list[str]) -> DimensionSpec | None:
    kind = raw.get("kind")
    if kind not in KINDS:
        errors.append(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
        return None
    label = raw.get("label") or key.replace("_", " ").replace("-", " ").capitalize()
    if not isinstance(label, str):
        errors.append(f"{where}.label: must be text")
        return None
    if len(label) > LABEL_MAX:
        errors.append(f"{where}.label: at most {LABEL_MAX} characters (got {len(label)})")
    description = raw.get("description", "") or ""
    if not isinstance(description, str):
        errors.append(f"{where}.description: must be text")
        return None
    required = raw.get("required", kind != "text")
    if not isinstance(required, bool):
        errors.append(f"{where}.required: must be true or false")
    default_level = {"likert": "ordinal", "binary": "nominal", "categorical": "nominal",
                     "pairwise": "ordinal", "text": ""}[kind]
    level = raw.get("level", default_level) or default_level
    if kind == "text":
        level = ""
    elif level not in LEVELS:
        errors.append(f"{where}.level: {level!r} is not one of {', '.join(LEVELS)}")
    elif kind == "binary" and level != "nominal":
        errors.append(f"{where}.level: a binary dimension is nominal")
    anchors = raw.get("levels") or {}
    if not isinstance(anchors, dict):
        errors.append(f"{where}.levels: must map each value to a label or to {{label, anchor}}")
        anchors = {}
    levels: list[LevelSpec] = []
    if kind == "likert":
        lo, hi = raw.get("min", 1), raw.get("max", 5)
        if not (isinstance(lo, int) and isinstance(hi, int)) or isinstance(lo, bool) or isinstance(hi, bool):
            errors.append(f"{where}.min/max: must be whole numbers")
            return None
        if not (VALUE_RANGE[0] <= lo <= VALUE_RANGE[1] and VALUE_RANGE[0] <= hi <= VALUE_RANGE[1]):
            errors.append(f"{where}.min/max: must be between {VALUE_RANGE[0]} and {VALUE_RANGE[1]} (got {lo}..{hi})")
            return None
        if not lo < hi or hi - lo > 100:
            errors.append(f"{where}.min/max: need min < max and at most 101 points (got {lo}..{hi})")
            return None
        levels = [LevelSpec(v, str(v)) for v in range(lo, hi + 1)]
    elif kind == "binary":
        levels = [LevelSpec(0, "No"), LevelSpec(1, "Yes")]
    elif kind == "categorical":
        options = raw.get("options")
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) and o for o in options):
            errors.append(f"{where}.options: a list of at least two non-empty labels is required")
            return None
        if len(set(options)) != len(options):
            errors.append(f"{where}.options: labels must be distinct")
        for o in options:
            if len(o) > LABEL_MAX:
                errors.append(f"{where}.options: a label has at most {LABEL_MAX} characters (got {len(o)})")
        levels = [LevelSpec(i, o) for i, o in enumerate(options)]
    elif kind == "pairwise":
        points = raw.get("points", 3)
        if points not in (3, 5, 7):
            errors.append(f"{where}.points: a pairwise preference has 3, 5 or 7 points (got {points!r})")
            return None
        k = points // 2
        levels = [LevelSpec(v, lab) for v, lab in zip(range(-k, k + 1), PAIRWISE_LABELS[k], strict=True)]
    by_value = {lv.value: lv for lv in levels}
    for raw_value, text in anchors.items():
        value: int | None
        try:
            value = int(raw_value)
        except (TypeError, ValueError):
            value = next((lv.value for lv in levels if lv.label == raw_value), None)
        if value is None or value not in by_value:
            errors.append(f"{where}.levels: {raw_value!r} is not a value of this scale")
            continue
        label_text = text if isinstance(text, str) else text.get("label") if isinstance(text, dict) else None
        if isinstance(label_text, str) and len(label_text) > LABEL_MAX:
            errors.append(f"{where}.levels.{raw_value}: a label has at most {LABEL_MAX} characters (got {len(label_text)})")
            continue
        if isinstance(text, str):
            if kind == "likert":
                by_value[value] = LevelSpec(value, text)
            else:
                by_value[value] = LevelSpec(value, by_value[value].label, text)
        elif isinstance(text, dict) and isinstance(text.get("label", ""), str) and isinstance(text.get("anchor", ""), str):
            by_value[value] = LevelSpec(value, text.get("label") or by_value[value].label, text.get("anchor", ""))
        else:
            errors.append(f"{where}.levels.{raw_value}: must be a label or {{label, anchor}}")
    weight = raw.get("weight")
    if weight is not None:
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not (0 <= weight < float("inf")):
            errors.append(f"{where}.weight: must be a number >= 0 (got {weight!r})")
            weight = None
        elif kind not in ("likert", "binary"):
            errors.append(f"{where}.weight: only likert and yes/no dimensions have a weight in the composite")
            weight = None
        else:
            weight = float(weight)
    return DimensionSpec(
        key=key, label=str(label), kind=kind, level=level, required=bool(required),
        description=description, levels=tuple(by_value[v] for v in sorted(by_value)),
        weight=weight,
    )


def to_document(version) -> dict[str, Any]:
    """The document of a stored ``RubricVersion`` (the inverse of ``validate`` + import)."""
    dims = []
    for dim in version.dimensions.all():
        levels = list(dim.levels.all())
        out: dict[str, Any] = {"key": dim.key, "label": dim.label, "kind": dim.kind}
        if dim.level:
            out["level"] = dim.level
        out["required"] = dim.required
        if dim.description:
            out["description"] = dim.description
        if dim.weight is not None:
            out["weight"] = dim.weight
        if dim.kind == "likert":
            out["min"], out["max"] = levels[0].value, levels[-1].value
            out["levels"] = {
                str(lv.value): ({"label": lv.label, "anchor": lv.anchor} if lv.anchor else lv.label)
                for lv in levels if lv.label != str(lv.value) or lv.anchor
            }
        elif dim.kind == "categorical":
            out["options"] = [lv.label for lv in levels]
        elif dim.kind == "pairwise":
            out["points"] = len(levels)
        if dim.kind in ("binary", "categorical", "pairwise"):
            anchors = {str(lv.value): lv.anchor for lv in levels if lv.anchor}
            if anchors:
                out["levels"] = anchors
        if out.get("levels") == {}:
            del out["levels"]
        dims.append(out)
    doc: dict[str, Any] = {
        "slug": version.rubric.slug,
        "name": version.rubric.name,
        "version": version.number,
        "guidelines": version.guidelines,
        "justification": version.justification,
        "dimensions": dims,
    }
    if version.rubric.description:
        doc["description"] = version.rubric.description
    return doc


def dump(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
