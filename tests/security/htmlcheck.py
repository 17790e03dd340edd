"""Find markup in a page that could run script, as a browser would parse it.

The page's HTML is parsed (``html.parser``: tags, attributes with entities decoded, raw text of
``script`` and ``style``) and these count as problems:

* a ``script`` element that is not a same-origin file (``src="/..."``) or a JSON block whose content
  parses as JSON (Django's ``json_script``);
* an event-handler attribute (``on...``), a ``srcdoc``, or a URL attribute with a ``javascript:``,
  ``vbscript:`` or ``data:`` scheme (after the whitespace and control characters browsers ignore);
* elements that embed or redirect: ``iframe``, ``frame``, ``object``, ``embed``, ``applet``, ``base``,
  ``meta http-equiv=refresh``, a ``link`` to anything but a same-origin file; and ``math`` and
  ``noscript``, which the application never writes (mutation XSS uses them);
* a ``style`` attribute or element that could fetch or run something (``url(``, ``expression``,
  ``javascript``, ``@import``), or a style element holding markup.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background", "xlink:href", "srcset",
                  "codebase", "cite", "ping", "lowsrc", "dynsrc", "longdesc", "manifest"}
EMBEDDING = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "math", "noscript", "portal",
             "fencedframe"}
IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]+")
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
BAD_STYLE = re.compile(r"url\s*\(|expression|javascript|behavior|@import", re.IGNORECASE)


def same_origin_path(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//") and not url.startswith("/\\")


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        shown = self.get_starttag_text() or tag
        for name, value in values.items():
            if name.startswith("on") or name == "srcdoc":
                self.problems.append(f"event handler or srcdoc: {shown[:200]}")
            if name in URL_ATTRIBUTES:
                url = IGNORED_IN_URLS.sub("", value).lower()
                if url.startswith(BAD_SCHEMES):
                    self.problems.append(f"{name} with a script or data URL: {shown[:200]}")
            if name == "style" and BAD_STYLE.search(value):
                self.problems.append(f"active style: {shown[:200]}")
        if tag in EMBEDDING:
            self.problems.append(f"<{tag}> element: {shown[:200]}")
        if tag == "meta" and values.get("http-equiv", "").lower() in ("refresh", "set-cookie"):
            self.problems.append(f"meta http-equiv: {shown[:200]}")
        if tag == "link" and not same_origin_path(values.get("href", "")):
            self.problems.append(f"link to elsewhere: {shown[:200]}")
        if tag in ("script", "style"):
            self._script = {"tag": tag, "attrs": values, "text": [], "shown": shown}

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script["text"].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._script is not None:
            self._check_raw_text(self._script)
            self._script = None

    def _check_raw_text(self, script: dict) -> None:
        attrs, text = script["attrs"], "".join(script["text"])
        if script["tag"] == "style":
            if BAD_STYLE.search(text) or "<" in text:
                self.problems.append(f"active style element: {text[:200]}")
            return
        if "src" in attrs:
            if not same_origin_path(attrs["src"]) or text.strip():
                self.problems.append(f"script from elsewhere: {script['shown'][:200]}")
            return
        if attrs.get("type") == "application/json":
            try:
                json.loads(text)
            except ValueError:
                self.problems.append(f"a JSON block that is not JSON (broken out of?): {text[:200]}")
            return
        self.problems.append(f"inline script: {script['shown'][:100]} {text[:200]}")


def script_hazards(html: str) -> list[str]:
    """Every problem found in ``html`` (an empty list for a clean page)."""
    checker = _Checker()
    checker.feed(html)
    checker.close()
    if checker._script is not None:  # an unclosed script swallows the rest of the page
        checker.problems.append(f"unclosed script: {checker._script['shown'][:200]}")
    return checker.problems
