"""What a run sends: a generation prompt from a lead's template, and a judge prompt from the rubric.

Generation templates are ``str.format`` templates over an item's fields: ``{prompt}``,
``{reference}``, ``{external_id}`` and ``{metadata[key]}``.  They are checked against every item
when the run starts, so a missing metadata key is an error naming the item, not a failed call later.

A judge prompt carries the rubric version as raters see it (guidelines, each dimension with its
levels and their anchors, the reference answer when the project shows it to raters), the item and
the response(s), and asks for JSON: ``{"scores": {<key>: <value>, ...}, "justification": "..."}``.
The JSON schema goes in ``response_format`` where the endpoint supports structured output, and
into the prompt (between ``<schema>`` tags) always, for endpoints that only do JSON mode.
``parse_judge_output`` is tolerant of what models wrap around JSON (code fences, prose).
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Mapping
from typing import Any

from evalplatform.projects.models import Item, Project, Task
from evalplatform.ratings.services import answer_keys
from rubrics.models import Dimension, RubricVersion
from rubrics.scales import SIDES, Scale, asked_per_response, scales_for

GENERATION_FIELDS = ("prompt", "reference", "external_id", "metadata")
DEFAULT_GENERATION_TEMPLATE = "{prompt}"
DEFAULT_SYSTEM = "You are a helpful customer-support agent. Write the reply to the customer."

JUDGE_SYSTEM = (
    "You are an expert evaluator. Score the response(s) against the rubric exactly as a trained "
    "human rater would, using only the values the rubric allows. Answer with JSON only."
)
DEFAULT_JUDGE_TEMPLATE = """# Rubric
{guidelines}

# Questions
{dimensions}

# The request
{prompt}
{reference}
# {responses_title}
{responses}

# Your answer
Reply with one JSON object: {{"scores": {{...}}, "justification": "..."}}, matching this schema:
<schema>{schema}</schema>
"""
JUDGE_FIELDS = ("guidelines", "dimensions", "prompt", "reference", "responses_title", "responses", "schema")


class TemplateError(ValueError):
    pass


def template_fields(template: str) -> set[str]:
    """The top-level field names a ``str.format`` template uses; ``TemplateError`` if it is malformed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"the template is not valid: {exc}") from None
    names = set()
    for _, field_name, _, _ in parsed:
        if field_name is None:
            continue
        base = field_name.split("[", 1)[0].split(".", 1)[0]
        if not base:
            raise TemplateError("the template has a positional field {}; name the field, e.g. {prompt}")
        names.add(base)
    return names


def check_template(template: str, allowed: tuple[str, ...]) -> None:
    if not template.strip():
        raise TemplateError("the template is empty")
    unknown = template_fields(template) - set(allowed)
    if unknown:
        raise TemplateError(f"unknown field(s) {', '.join(sorted(unknown))}; use {', '.join(allowed)}")


def render_generation(template: str, item: Item) -> str:
    """The user message for ``item``; ``TemplateError`` naming the item if a field is missing."""
    try:
        return template.format(prompt=item.prompt, reference=item.reference, external_id=item.external_id,
                               metadata=item.metadata or {})
    except (KeyError, IndexError, AttributeError, TypeError, ValueError) as exc:
        raise TemplateError(f"item {item.external_id!r}: {type(exc).__name__} {exc}") from None


def generation_messages(template: str, item: Item) -> list[dict[str, str]]:
    return [{"role": "system", "content": DEFAULT_SYSTEM}, {"role": "user", "content": render_generation(template, item)}]


def prompt_version(kind: str, template: str, rubric_version_id: int | None = None) -> str:
    """A short, stable name of what the prompt is: its kind, rubric version and a digest of the text."""
    system = JUDGE_SYSTEM if kind == "judge" else DEFAULT_SYSTEM
    digest = hashlib.sha256(f"{system}\x1f{template}".encode()).hexdigest()[:10]
    return f"{kind}-rv{rubric_version_id}-{digest}" if rubric_version_id else f"{kind}-{digest}"


# --- judges ------------------------------------------------------------------------------------

def _value_schema(scale: Scale) -> dict[str, Any]:
    if scale.is_text:
        return {"type": "string"} if scale.required else {"type": ["string", "null"]}
    values: list[Any] = list(scale.values)
    if not scale.required:
        values.append(None)
    return {"enum": values}


def judge_schema(scales: Mapping[str, Scale], *, pair: bool) -> dict[str, Any]:
    """The JSON schema of a judge's answer (OpenAI strict mode: every key required, optional ones nullable)."""
    keys = answer_keys(scales, pair=pair)
    return {
        "type": "object",
        "properties": {
            "scores": {
                "type": "object",
                "properties": {key: _value_schema(scale) for key, scale in keys},
                "required": [key for key, _ in keys],
                "additionalProperties": False,
            },
            "justification": {"type": "string"},
        },
        "required": ["scores", "justification"],
        "additionalProperties": False,
    }


def _describe_dimensions(version: RubricVersion, *, pair: bool) -> str:
    blocks = []
    dimensions = version.dimensions.prefetch_related("levels").order_by("position", "id")
    for dim in dimensions:
        per_response = asked_per_response(dim.kind, pair=pair)
        keys = " and ".join(f'"{dim.key}.{side}"' for side in SIDES) if per_response else f'"{dim.key}"'
        head = f"## {dim.label} (key {keys}; {'required' if dim.required else 'optional, null if not applicable'})"
        lines = [head]
        if dim.description:
            lines.append(dim.description.strip())
        if per_response:
            lines.append("Answer this for each response: .a for Response A, .b for Response B.")
        if dim.kind == Dimension.Kind.TEXT:
            lines.append("Free text.")
        elif dim.kind == Dimension.Kind.PAIRWISE:
            lines.append("Negative values prefer Response A, positive values prefer Response B, 0 is a tie.")
        for level in dim.levels.all():
            anchor = f": {level.anchor.strip()}" if level.anchor.strip() else ""
            lines.append(f"- {level.value} = {level.label}{anchor}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def judge_messages(template: str, project: Project, task: Task) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The messages of a judge call for ``task`` and the JSON schema of its answer."""
    version = project.rubric_version
    pair = task.response_b_id is not None
    scales = scales_for(version)
    schema = judge_schema(scales, pair=pair)
    item = task.item
    if pair:
        responses = f"## Response A\n{task.response_a.text}\n\n## Response B\n{task.response_b.text}"  # type: ignore[union-attr]
    else:
        responses = task.response_a.text
    reference = f"\n# Reference answer\n{item.reference}\n" if project.show_reference and item.reference else ""
    user = template.format(
        guidelines=version.guidelines.strip() or "(no guidelines)", dimensions=_describe_dimensions(version, pair=pair),
        prompt=item.prompt, reference=reference, responses_title="The responses" if pair else "The response",
        responses=responses, schema=json.dumps(schema, separators=(",", ":")),
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}], schema


def response_format_for(schema: dict[str, Any], *, structured: bool) -> dict[str, Any]:
    if structured:
        return {"type": "json_schema", "json_schema": {"name": "rubric_scores", "strict": True, "schema": schema}}
    return {"type": "json_object"}


class OutputError(ValueError):
    """The judge's output is not an answer (not JSON, or not the shape asked for)."""


def parse_judge_output(content: str) -> tuple[dict[str, Any], str]:
    """``(scores, justification)`` from a judge's text: JSON, possibly in a code fence or after prose.

    Accepts ``{"scores": {...}, "justification": ...}`` or a flat object of scores.  Anything else is
    ``OutputError`` with the reason.
    """
    text = (content or "").strip()
    if not text:
        raise OutputError("the output is empty")
    data = _first_json_object(text)
    if not isinstance(data, dict):
        raise OutputError("the output is not a JSON object")
    justification = data.get("justification") or data.get("reasoning") or ""
    if not isinstance(justification, str):
        justification = json.dumps(justification)
    scores = data.get("scores", None)
    if scores is None:
        scores = {k: v for k, v in data.items() if k not in ("justification", "reasoning")}
    if not isinstance(scores, dict):
        raise OutputError("\"scores\" is not an object of dimension key -> value")
    return scores, justification


def _first_json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    start = text.find("{")
    last_error = "no JSON object in the output"
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
            return value
        except ValueError as exc:
            last_error = f"not valid JSON ({exc})"
        start = text.find("{", start + 1)
    raise OutputError(last_error)
