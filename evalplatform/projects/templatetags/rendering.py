"""``{{ text|markdown }}``: the one way templates show untrusted text as formatted HTML."""

from django import template
from django.utils.safestring import mark_safe

from evalplatform.rendering import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown(text: str | None) -> str:
    # Safe because render_markdown disables raw HTML and sanitises the result with nh3.
    return mark_safe(render_markdown(text))  # noqa: S308
