"""The API's JSON parser: DRF's, refusing with 400 what would otherwise fail later with a 500.

A body nested thousands deep made the standard library's parser raise ``RecursionError`` (a 500 on
every JSON write, the unauthenticated token endpoint included); a lone surrogate (``"\\ud800"``) is
not Unicode text, so echoing it in an error message failed to encode (another 500).  Both, and
nesting deeper than any request needs (``input_rules.MAX_NESTING``), are a parse error here.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from evalplatform.input_rules import MAX_NESTING, unstorable


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_NESTING} levels deep") from None
        problem = unstorable(data)
        if problem is not None:
            where, why = problem
            raise ParseError(f"JSON parse error - {where + ': ' if where else ''}{why}"[:300])
        return data
