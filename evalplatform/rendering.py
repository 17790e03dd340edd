"""Untrusted text (prompts, responses, references, justifications, rubric text) to safe HTML.

LLM output and imported prompts are untrusted.  Markdown is rendered with raw HTML disabled, code
blocks are highlighted server-side with Pygments, and the result is sanitised with nh3 (Ammonia)
against an allow-list, so script, event handlers, ``javascript:`` links and the like never reach a
page.  Templates use ``{{ text|markdown }}`` from ``projects.templatetags.rendering``; nothing else
marks untrusted text safe.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, guess_lexer
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True, classprefix="hl-")
ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "span", "div",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "div": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}


def _highlight(code: str, lang: str, _attrs) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else guess_lexer(code)
    except ClassNotFound:
        return ""  # markdown-it escapes the code itself
    return highlight(code, lexer, _FORMATTER)


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "highlight": _highlight})
    md.enable("table").enable("strikethrough")
    return md


def render_markdown(text: str | None) -> str:
    """Safe HTML for untrusted Markdown."""
    if not text:
        return ""
    html = _renderer().render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
