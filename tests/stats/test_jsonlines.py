"""The one JSON Lines reader, shared by the imports and the statistics engine."""

from __future__ import annotations

import io

import pytest

from evalplatform.projects.records import ErrorList, read_records
from evalplatform.stats.jsonlines import json_lines
from evalplatform.stats.readers import RowError, read_jsonl


def test_blank_lines_are_skipped_and_numbers_kept():
    rows = list(json_lines([b'{"a": 1}\n', b"\n", b'{"a": 2}\n']))
    assert [r.line for r in rows] == [1, 3]
    assert [r.record for r in rows] == [{"a": 1}, {"a": 2}]


def test_a_byte_order_mark_is_dropped_from_bytes_as_from_text():
    (row,) = json_lines([b'\xef\xbb\xbf{"a": 1}\n'])
    assert row.record == {"a": 1}
    assert row.strict


@pytest.mark.parametrize(("line", "message"), [
    (b'{"a": }\n', "invalid JSON (Expecting value at column 7)"),
    (b"[1, 2]\n", "each line must be a JSON object, found a list"),
    (b'"text"\n', "each line must be a JSON object, found a string"),
    (b'{"a": "\xff"}\n', "is not valid UTF-8 text"),
    (b"[" * 5000 + b"]" * 5000 + b"\n", "nested more than 32 levels deep"),
])
def test_bad_lines_are_named_not_raised(line, message):
    (row,) = json_lines([line])
    assert row.record is None
    assert row.error == message


def test_nan_is_read_but_not_strict():
    (row,) = json_lines([b'{"a": NaN}\n'])
    assert row.record is not None
    assert not row.strict


def test_the_import_and_the_engine_give_the_same_message_for_the_same_bad_line(tmp_path):
    text = '{"item_id": 1, "rater": "a", "value": 3}\n[1, 2]\n'
    errors = ErrorList()
    list(read_records(io.BytesIO(text.encode()), "jsonl", errors))
    path = tmp_path / "r.jsonl"
    path.write_text(text)
    with pytest.raises(RowError) as caught:
        read_jsonl(path)
    assert [str(e) for e in errors.items] == [str(caught.value)]


def test_the_engine_refuses_a_non_finite_value_by_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"item_id": 1, "rater": "a", "value": 3}\n{"item_id": 2, "rater": "a", "value": NaN}\n')
    with pytest.raises(RowError, match=r"^line 2: holds NaN"):
        read_jsonl(path)
