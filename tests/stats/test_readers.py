"""Reading long-format ratings: the numpy CSV path, the csv-module path, JSONL, rows, and errors."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from evalplatform.stats.readers import (
    LongRatings,
    RatingRow,
    RowError,
    from_rows,
    read_csv,
    read_jsonl,
    read_ratings,
)


def column(long: LongRatings, name: str) -> list:
    f = getattr(long, name)
    if f is None:
        return [None] * len(long)
    return [None if c < 0 else f.labels[c] for c in f.codes]


def rows_of(long: LongRatings) -> list[tuple]:
    return list(zip(*(column(long, c) for c in ("item", "rater", "dimension", "value", "model")), strict=True))


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_fast_and_slow_csv_paths_agree(tmp_path):
    rng = random.Random(0)
    lines = ["item_id,rater,dimension,value,model"]
    for _ in range(3000):
        item = f"question-{rng.randrange(700)}-{'x' * rng.randrange(0, 30)}"  # long ids: hashed keys
        lines.append(f"{item},r{rng.randrange(40)},{rng.choice(['help', 'tone'])},"
                     f"{rng.choice(['1', '2', '3', '4', '5', ''])},{rng.choice(['gpt', 'claude', 'llama'])}")
    fast = read_csv(write(tmp_path, "fast.csv", "\n".join(lines) + "\n"))
    quoted = [lines[0]] + [",".join(f'"{f}"' for f in line.split(",")) for line in lines[1:]]
    slow = read_csv(write(tmp_path, "slow.csv", "\n".join(quoted) + "\n"))
    assert rows_of(fast) == rows_of(slow)
    expected = [tuple(line.split(",")) for line in lines[1:]]
    assert [(a, b, c, "" if d is None else d, e) for a, b, c, d, e in rows_of(fast)] == expected
    assert len(fast.item.labels) == len({e[0] for e in expected})


def test_non_ascii_labels_and_crlf_and_bom(tmp_path):
    text = "\ufeffitem_id,rater,value\r\nà1,Zoë,3\r\nà1,李,4\r\n"
    long = read_csv(write(tmp_path, "u.csv", text.encode("utf-8"), "wb"))
    assert rows_of(long) == [("à1", "Zoë", "u", "3", None), ("à1", "李", "u", "4", None)]


def test_default_dimension_is_the_file_stem(tmp_path):
    long = read_csv(write(tmp_path, "helpfulness.csv", "item_id,rater,value\n1,a,3\n"))
    assert list(long.dimension.labels) == ["helpfulness"]
    assert long.model is None


def test_blank_lines_keep_line_numbers(tmp_path):
    text = "item_id,rater,value\n\n1,a,3\n\n\n1,b\n"
    with pytest.raises(RowError, match=r"^line 6: expected 3 fields"):
        read_csv(write(tmp_path, "b.csv", text))


def test_blank_lines_in_a_plain_file_are_skipped_and_later_lines_keep_their_numbers(tmp_path):
    # A plain file (no quotes) is read by Arrow; a blank line makes Arrow refuse it, and the numpy
    # parser that takes over must give the same ratings and name the original line of an error.
    plain = "item_id,rater,dimension,value\n1,a,acc,3\n1,b,acc,4\n2,a,acc,\n"
    gappy = "item_id,rater,dimension,value\n1,a,acc,3\n\n1,b,acc,4\n\n2,a,acc,\n\n"
    assert rows_of(read_csv(write(tmp_path, "p.csv", plain))) == rows_of(read_csv(write(tmp_path, "g.csv", gappy)))
    with pytest.raises(RowError, match=r"^line 5, field 'rater': is empty"):
        read_csv(write(tmp_path, "e.csv", "item_id,rater,value\n1,a,3\n\n1,b,4\n2,,5\n"))


@pytest.mark.parametrize(("text", "pattern"), [
    ("", r"^line 1: the file is empty"),
    ("  \n\n", r"^line 1: the file is empty"),
    ("item_id,rater,value\n", r"^line 2: the file has a header but no ratings"),
    ("item_id,value\n1,3\n", r"^line 1: missing column 'rater'"),
    ("item_id,rater,value,rater\n1,a,3,b\n", r"^line 1: column 'rater' appears twice"),
    ("item_id,rater,value\n1,a,3\n2,b,4,5\n", r"^line 3: expected 3 fields"),
    ("item_id,rater,value\n1,a,3\n,b,4\n", r"^line 3, field 'item_id': is empty"),
    ('item_id,rater,value\n1,a,3\n"2",,4\n', r"^line 3, field 'rater': is empty"),
    ('item_id,rater,value\n1,a,3\n"2",b\n', r"^line 3: expected 3 fields"),
])
def test_csv_errors_name_the_line(tmp_path, text, pattern):
    with pytest.raises(RowError, match=pattern):
        read_csv(write(tmp_path, "e.csv", text))


def test_jsonl(tmp_path):
    objs = [{"item_id": 1, "rater": "a", "value": 3, "model": "m"},
            {"item_id": 1, "rater": "b", "value": None, "dimension": "d2"},
            {"item_id": 2, "rater": "a", "value": "good"}]
    path = write(tmp_path, "r.jsonl", "\n".join(json.dumps(o) for o in objs) + "\n\n")
    long = read_ratings(path)
    assert rows_of(long) == [(1, "a", "r", 3, "m"), (1, "b", "d2", None, None), (2, "a", "r", "good", None)]
    assert list(long.lines) == [1, 2, 3]


@pytest.mark.parametrize(("text", "pattern"), [
    ('{"item_id": 1, "rater": "a", "value": 3}\n{"item_id": 2, "rater": "a", "value": \n', r"^line 2: invalid JSON"),
    ('{"item_id": 1, "rater": "a", "value": 3}\n[1, 2]\n', r"^line 2: each line must be a JSON object, found a list"),
    ('{"item_id": 1, "value": 3}\n', r"^line 1: missing key 'rater'"),
    ("\n\n", r"^line 1: the file is empty"),
])
def test_jsonl_errors_name_the_line(tmp_path, text, pattern):
    with pytest.raises(RowError, match=pattern):
        read_jsonl(write(tmp_path, "e.jsonl", text))


def test_from_rows_accepts_tuples_named_tuples_and_mappings():
    long = from_rows([
        RatingRow("i1", "a", "help", 3, "m1"),
        ("i1", "b", "help", 4),
        {"item_id": "i2", "rater": "a", "dimension": "help", "value": float("nan"), "model": "m1"},
    ])
    assert rows_of(long) == [("i1", "a", "help", 3, "m1"), ("i1", "b", "help", 4, None), ("i2", "a", "help", None, "m1")]
    assert long.locate(2) == {"row": 3}
    with pytest.raises(RowError, match=r"^row 1: a rating row is"):
        from_rows([("i1", "a")])
    with pytest.raises(RowError, match=r"^row 2, field 'rater': is empty"):
        from_rows([("i1", "a", "d", 1), ("i1", None, "d", 2)])


def test_factorisation_of_many_long_labels_is_exact(tmp_path):
    """Labels sharing long prefixes and differing in one byte at various positions."""
    rng = np.random.default_rng(5)
    base = "x" * 40
    ids = [base[:k] + chr(97 + j) + base[k + 1:] for k in range(40) for j in range(5)]
    picks = rng.integers(0, len(ids), 5000)
    lines = ["item_id,rater,value"] + [f"{ids[p]},r{i % 7},{i % 5 + 1}" for i, p in enumerate(picks)]
    long = read_csv(write(tmp_path, "l.csv", "\n".join(lines)))  # no final newline
    assert column(long, "item") == [ids[p] for p in picks]
    assert column(long, "value") == [str(i % 5 + 1) for i in range(5000)]


@pytest.mark.parametrize("quoted", [False, True])
def test_arrow_reads_exactly_what_the_csv_module_reads(tmp_path, quoted):
    """One parser (Arrow) reads every well-formed file: the same cells as Python's csv module, missing
    values, empty lines and (when quoted) commas, quotes and line breaks inside fields included."""
    import csv

    import numpy as np

    from evalplatform.stats import readers

    rng = np.random.default_rng(3)
    lines = ["item_id,rater,dimension,value,model"]
    for i in range(3000):
        value = "" if rng.random() < 0.2 else str(int(rng.integers(1, 6)))
        item = f'"it, {i % 700} ""q""\nline two"' if quoted and i % 5 == 0 else f"it{i % 700}"
        lines.append(f"{item},r{i % 7},{['acc', 'help'][i % 2]},{value},m{i % 3}")
        if i % 997 == 0:
            lines.append("")  # an empty line is skipped
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n")
    got = readers.read_csv(path)
    with path.open(newline="") as fh:
        rows = [row for row in csv.DictReader(fh)]
    assert len(rows) == 3000

    def labels(factor):
        return np.array([*factor.labels, None], dtype=object)[factor.codes]

    for column, key in (("item", "item_id"), ("rater", "rater"), ("dimension", "dimension"), ("model", "model")):
        assert labels(getattr(got, column)).tolist() == [row[key] for row in rows], column
    assert labels(got.value).tolist() == [row["value"] or None for row in rows]


def test_a_quoted_value_with_a_line_break_keeps_later_lines_named(tmp_path):
    from evalplatform.stats import readers

    path = tmp_path / "r.csv"
    path.write_text('item_id,rater,value\n"a\nb",r1,3\nc,r2,4\n,r3,5\n')
    with pytest.raises(readers.RowError, match="line 5"):  # the record after the two-line one
        readers.read_csv(path)


def test_ragged_row_still_names_its_line_with_the_fast_path(tmp_path):
    from evalplatform.stats import readers

    path = tmp_path / "r.csv"
    path.write_text("item_id,rater,value\na,r1,3\nb,r2,4,extra\n")
    with pytest.raises(readers.RowError, match="line 3"):
        readers.read_csv(path)
