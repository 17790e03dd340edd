"""The one CSV reader (``evalplatform.stats.csvfile``): Arrow reads, the csv module names bad lines.

Both the engine (``stats.readers.read_csv``) and the imports (``projects.records``) read CSV through it, so
these tests pin what both rely on: the same cells as Python's csv module, the line each record starts on
(empty lines, CRLF, lone CR and quoted line breaks counted), and every bad line named, whatever the block
size a file is cut into.
"""

from __future__ import annotations

import csv
import io
import random

import pytest

from evalplatform.stats.csvfile import CsvFile


def read(raw: bytes, *, block_size, stream: bool = True, skip_blank: bool = False):
    """(header, [(line, row)], [bad lines]) as the reader gives them."""
    file = CsvFile(io.BytesIO(raw) if stream else raw, block_size=block_size)
    rows, bad = [], []
    if file.header is None:
        return None, rows, bad
    names = [f"c{i}" for i in range(len(file.header))]
    for block in file.blocks(names, skip_blank_records=skip_blank):
        bad.extend(block.bad)
        if block.table is not None:
            cols = [c.to_pylist() for c in block.table.columns]
            rows.extend(zip(block.lines.tolist(), zip(*cols, strict=True), strict=True))
    return file.header, rows, bad


def by_csv_module(raw: bytes):
    """The reference: (line, row) of each non-empty record after the header, by Python's csv module."""
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    out, end, header = [], 0, None
    for row in reader:
        start, end = end + 1, reader.line_num
        if not row:
            continue
        if header is None:
            header = row
            continue
        out.append((start, tuple(row)))
    return header, out


def random_file(seed: int, *, quoted: bool, newline: str) -> bytes:
    rng = random.Random(seed)
    lines = ["item_id,rater,value"]
    for i in range(400):
        if rng.random() < 0.05:
            lines.append("")  # an empty line: skipped, but counted
        item = f'"it, {i} ""q""{newline}two"' if quoted and rng.random() < 0.2 else f"it{i % 37}"
        lines.append(f"{item},r{rng.randrange(9)},{rng.choice(['1', '2', '', 'ok'])}")
    return (newline.join(lines) + newline).encode()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("quoted", [False, True])
@pytest.mark.parametrize("block_size", [None, 64, 1000])
def test_cells_and_lines_are_the_csv_modules_whatever_the_blocks(quoted, newline, block_size):
    raw = random_file(7, quoted=quoted, newline=newline)
    header, rows, bad = read(raw, block_size=block_size)
    assert bad == []
    expected_header, expected = by_csv_module(raw)
    assert header == expected_header
    assert rows == expected


def test_a_bytes_source_reads_like_a_stream_and_a_text_stream_like_bytes():
    raw = random_file(3, quoted=True, newline="\n")
    assert read(raw, block_size=None, stream=False) == read(raw, block_size=50)
    file = CsvFile(io.StringIO(raw.decode()), block_size=50)
    assert file.header == ["item_id", "rater", "value"]
    assert sum(len(b) for b in file.blocks(["a", "b", "c"])) == len(by_csv_module(raw)[1])


def test_a_byte_order_mark_and_empty_lines_above_the_header_are_skipped():
    header, rows, _ = read(b"\xef\xbb\xbf\n  \nitem_id,value\n1,2\n", block_size=None)
    assert header == ["item_id", "value"]
    assert rows == [(4, ("1", "2"))]


@pytest.mark.parametrize("block_size", [None, 16])
def test_every_ragged_line_is_named_in_every_block(block_size):
    raw = b"a,b\n1,2\n3\n4,5\n6,7,8\n9,10\n"
    _, _, bad = read(raw, block_size=block_size)
    assert [(b.line, b.kind, b.found) for b in bad] == [(3, "fields", 1), (5, "fields", 3)]


def test_a_ragged_line_after_a_quoted_line_break_is_named_by_its_own_line():
    _, _, bad = read(b'a,b\n"x\ny",1\n\n2\n', block_size=None)
    assert [(b.line, b.found) for b in bad] == [(5, 1)]


def test_bytes_that_are_not_utf8_are_named_by_line():
    _, _, bad = read(b"a,b\n1,2\n\n3,caf\xe9\n", block_size=None)
    assert [(b.line, b.kind) for b in bad] == [(4, "encoding")]
    file = CsvFile(b"caf\xe9,b\n1,2\n")
    assert file.header is None
    assert file.header_error is not None


def test_blank_records_are_dropped_only_when_asked():
    raw = b"a,b\n1,2\n   \n,\n3,4\n"
    _, rows, bad = read(raw, block_size=None, skip_blank=True)
    assert bad == []
    assert rows == [(2, ("1", "2")), (4, ("", "")), (5, ("3", "4"))]  # ",": two blank fields, the caller's call
    _, _, bad = read(raw, block_size=None)
    assert [(b.line, b.found) for b in bad] == [(3, 1)]


def test_an_empty_file_has_no_header():
    for raw in (b"", b"\n\n", b"  \r\n"):
        assert CsvFile(raw).header is None


def test_a_file_without_quotes_is_read_in_blocks_and_one_with_quotes_whole_from_the_first_quote():
    plain = b"a,b\n" + b"1,2\n" * 1000
    assert len(list(CsvFile(io.BytesIO(plain), block_size=400).blocks(["a", "b"]))) >= 10
    quoted = b"a,b\n" + b"1,2\n" * 200 + b'"x\ny",3\n' + b"1,2\n" * 800
    blocks = list(CsvFile(io.BytesIO(quoted), block_size=400).blocks(["a", "b"]))
    assert len(blocks) >= 2  # the quote-free start in blocks
    assert 801 <= len(blocks[-1]) <= 801 + 100  # from the block the quote showed in, to the end: one block
    assert sum(len(b) for b in blocks) == 1001
