"""Bulk inserts for the imports and fast reads for the exports: many rows, without model instances.

``bulk_create`` builds a model instance per row and compiles a statement per thousand rows; at a
team's size (hundreds of thousands of scores) that is most of an import's time.  Here rows are plain
tuples: PostgreSQL receives them with ``COPY ... FROM STDIN`` (psycopg 3's ``cursor.copy``),
SQLite with one ``executemany`` per table inside the caller's transaction.  Ids that later rows must
refer to (an item's responses, a rating's scores) are reserved before the insert with
``reserve_ids``, so nothing has to be read back.

The import services and the quality run's store call ``insert_rows`` (the store also ``update_rows``
and ``delete_ids``), always inside ``transaction.atomic()``: validation happens before, and a failure
rolls everything back as with the ORM.  ``converted_rows`` reads a
``values_list`` query as Django would, converting each column's distinct values once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import chain
from typing import Any

from django.db import OperationalError, connection, models, transaction
from django.db.models.sql.constants import MULTI
from django.utils import timezone

log = logging.getLogger(__name__)

#: The page cache (in KiB) a connection that bulk-inserts into SQLite asks for.
SQLITE_CACHE_KB = 32_768


def reserve_ids(model: type[models.Model], n: int) -> list[int]:
    """``n`` primary keys of ``model`` that no other row has or will get.

    PostgreSQL draws them from the table's sequence (safe beside concurrent writers; not always
    contiguous).  SQLite numbers them after the largest id ever used: the caller's transaction holds
    the database's write lock (``BEGIN IMMEDIATE``), so no one else can take them meanwhile.
    """
    if n <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n]
            )
            return [row[0] for row in cursor.fetchall()]
        if not connection.in_atomic_block:
            raise RuntimeError("reserve_ids needs a transaction that holds the write lock")
        cursor.execute(f'SELECT max(id) FROM "{table}"')  # noqa: S608 - a model's own table name
        top = cursor.fetchone()[0] or 0
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        start = max(top, row[0] if row else 0) + 1
    return list(range(start, start + n))


def db_value(model: type[models.Model], name: str, value: Any) -> Any:
    """``value`` as ``insert_rows`` passes it to the database for ``model``'s field ``name`` (a time as
    SQLite's text, a dict as JSON text, ...): convert a value once, not per row."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # a concrete field, not a reverse relation
    return field.get_db_prep_save(value, connection)


def _constant(field: models.Field, now: Any) -> Any:
    if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
        value = now
    else:
        value = field.get_default()
    return field.get_db_prep_save(value, connection)


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]], *, with_id: bool = False,
) -> int:
    """Insert ``rows`` (tuples of database values in ``fields`` order: ``<fk>_id`` numbers, text, JSON
    as text) into ``model``'s table; every other column gets its field's default (``auto_now_add``
    the current time).  With ``with_id`` each row starts with its reserved primary key.  Returns the
    number of rows."""
    meta = model._meta
    named = {f.attname: f for f in meta.concrete_fields}
    unknown = [name for name in fields if name not in named]
    if unknown:
        raise ValueError(f"{meta.label} has no field(s) {', '.join(unknown)}")
    now = timezone.now()
    rest = [f for f in meta.concrete_fields if f.attname not in fields and not f.primary_key]
    columns = [str(c) for c in (["id"] if with_id else []) + [named[n].column for n in fields] + [f.column for f in rest]]
    constants = tuple(_constant(f, now) for f in rest)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the driver's own cursor: no per-row work in Django's wrapper
        if connection.vendor == "postgresql":
            count = 0
            with raw.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write((*row, *constants) if constants else row)
                    count += 1
            return count
        # SQLite's default page cache (2 MB) is far smaller than the indexes a large import updates,
        # and an insert that misses it reads pages back through the operating system: a larger
        # cache for this connection makes big imports several times faster.
        raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
        marks = ", ".join(["?"] * len(columns))
        # sqlite3 sums the rows an ``executemany`` inserted into ``rowcount``: no counting layer per row.
        raw.executemany(
            f"INSERT INTO {table} ({quoted}) VALUES ({marks})",  # noqa: S608
            ((*row, *constants) for row in rows) if constants else rows,
        )
        return raw.rowcount


#: Rows a bulk write must reach for ``refresh_statistics`` to have its tables analyzed.
ANALYZE_AFTER = 10_000
#: How long an ``ANALYZE`` after an import waits for a table another ANALYZE or VACUUM holds.
ANALYZE_LOCK_TIMEOUT = "2s"


def refresh_statistics(written: int, *tables: type[models.Model]) -> None:
    """After a bulk write of ``written`` rows, have PostgreSQL re-read ``tables``' statistics once the
    caller's transaction has committed.

    The planner chooses by them, and autovacuum refreshes them only some time after a large write:
    until then a table that grew from nothing to 720,000 rows is still planned as nearly empty, so the
    report that an import schedules ran nested loops and sorted on disk (its score query took 1.0 s
    instead of 0.46 s, on issue 18's data).  ``ANALYZE`` reads a fixed-size sample (a few tenths of a
    second per table).  It runs after the commit, each table in a short transaction of its own: inside
    the writer's transaction its lock (which queues other ANALYZEs and VACUUMs of the table) would be
    held to the end, and a rollback would leave the planner the rolled-back row count.  A table that
    another ANALYZE or VACUUM holds is left to autovacuum.  SQLite plans without such statistics unless
    asked; nothing is done there.
    """
    if written < ANALYZE_AFTER or connection.vendor != "postgresql":
        return
    transaction.on_commit(partial(_analyze, [model._meta.db_table for model in tables]))


def _analyze(tables: list[str]) -> None:
    for table in tables:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{ANALYZE_LOCK_TIMEOUT}'")
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        except OperationalError as exc:  # the lock not granted in time: autovacuum will come round
            log.info("statistics of %s left to autovacuum: %s", table, exc)


def update_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Set ``fields`` of existing rows of ``model``: each row is ``(pk, *values)`` (database values in
    ``fields`` order, as for ``insert_rows``).  SQLite: one ``executemany``; PostgreSQL: the rows are
    copied into a temporary table and merged with one ``UPDATE ... FROM``.  Returns the number of rows
    given.  Cheaper than deleting and inserting them again: no index holds these columns, so only the
    table's rows are rewritten."""
    meta = model._meta
    named = {f.attname: f for f in meta.concrete_fields}
    unknown = [name for name in fields if name not in named or named[name].primary_key]
    if unknown or not fields:
        raise ValueError(f"{meta.label} has no updatable field(s) {', '.join(unknown) or '(none given)'}")
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(str(meta.pk.column))
    columns = [quote(str(named[n].column)) for n in fields]
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if connection.vendor == "postgresql":
            temp = quote(f"_update_{meta.db_table}")
            cursor.execute(f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS "  # noqa: S608
                           f"SELECT {pk}, {', '.join(columns)} FROM {table} WITH NO DATA")
            count = 0
            with raw.copy(f"COPY {temp} ({pk}, {', '.join(columns)}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
                    count += 1
            sets = ", ".join(f"{c} = u.{c}" for c in columns)
            cursor.execute(f"UPDATE {table} SET {sets} FROM {temp} u WHERE {table}.{pk} = u.{pk}")  # noqa: S608
            cursor.execute(f"DROP TABLE {temp}")
            return count
        # numbered parameters: the rows' own layout (key first), no re-arranged tuple per row
        sets = ", ".join(f"{c} = ?{i}" for i, c in enumerate(columns, start=2))
        raw.executemany(f"UPDATE {table} SET {sets} WHERE {pk} = ?1", rows)  # noqa: S608
        return raw.rowcount


def delete_ids(model: type[models.Model], ids: Sequence[int]) -> int:
    """Delete the rows of ``model`` with these primary keys, nothing else (no signals, no cascades:
    only for models nothing refers to).  Returns the number of rows deleted."""
    if not ids:
        return 0
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(str(model._meta.pk.column))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DELETE FROM {table} WHERE {pk} = ANY(%s)", [list(ids)])  # noqa: S608
            return cursor.rowcount
        raw = cursor.cursor
        raw.executemany(f"DELETE FROM {table} WHERE {pk} = ?", ((pk_,) for pk_ in ids))  # noqa: S608
        return raw.rowcount


def converted_rows(
    queryset: models.QuerySet, columns: Sequence[Callable[[Any], Any] | None], *, chunk_size: int = 2000,
) -> Iterator[tuple[Any, ...]]:
    """The rows of a ``values_list`` queryset, streamed in chunks as ``iterator(chunk_size=...)`` streams
    them, each column's value converted as Django converts it and then by ``columns[i]`` (None: left as
    converted), with every column's distinct values converted once.

    Django applies its converters (a time from SQLite's text, a bool from 0/1, JSON text to a dict)
    row by row; for an export of hundreds of thousands of rows whose columns repeat a few values
    (an item's metadata on each of its ratings) that is most of the time.  Here a chunk is turned into
    columns, each column's new distinct values are converted, and the rest is looked up: each column
    remembers what its raw values became (up to ``MEMO_SIZE`` of them, then starts afresh).  A column's
    function must depend on the value alone, and its results must not be changed by the caller (a
    converted dict is shared by the rows that held the same text).
    """
    compiler = queryset.query.get_compiler(queryset.db)
    results = compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=chunk_size)
    fields = [s[0] for s in compiler.select[: compiler.col_count]]
    if len(fields) != len(columns):
        raise ValueError(f"{len(columns)} column functions for a query of {len(fields)} columns")
    converters = compiler.get_converters(fields)
    steps: list[tuple[int, Callable[[Any], Any]]] = []
    for index, then in enumerate(columns):
        convert = converters.get(index)
        if convert or then:
            steps.append((index, _column_step(convert, then, compiler.connection)))
    if not steps:
        return chain.from_iterable(results)  # the driver's tuples as they come
    return _converted(results, steps)


#: How many distinct values a column of ``converted_rows`` remembers at most.
MEMO_SIZE = 20_000


def _converted(results: Iterable[list], steps: list[tuple[int, Callable[[Any], Any]]]) -> Iterator[tuple]:
    memos: dict[int, dict[Any, Any]] = {index: {} for index, _ in steps}
    for chunk in results:
        if not chunk:
            continue
        values = list(zip(*chunk, strict=True))
        for index, step in steps:
            column, memo = values[index], memos[index]
            try:
                if len(memo) > MEMO_SIZE:
                    memo.clear()
                for value in set(column).difference(memo):
                    memo[value] = step(value)
                values[index] = tuple(map(memo.__getitem__, column))
            except TypeError:  # an unhashable raw value (a PostgreSQL array): converted each time
                values[index] = tuple(map(step, column))
        yield from zip(*values, strict=True)


def _column_step(convert, then, connection_) -> Callable[[Any], Any]:
    functions, expression = convert if convert else ((), None)

    def step(value: Any) -> Any:
        for function in functions:
            value = function(value, expression, connection_)
        return then(value) if then is not None else value

    return step


def add_to_counts(
    model: type[models.Model], amounts: dict[int, int], fields: Sequence[str], *, within: tuple[str, str] | None = None,
) -> int:
    """Add ``amounts[pk]`` to each of ``fields`` of the row ``pk`` of ``model``, for every pk at once (one
    statement on PostgreSQL, one ``executemany`` on SQLite); with ``within=(count, limit)`` only rows whose
    ``count`` stays at most ``limit`` are changed.  Returns the number of rows changed: fewer than
    ``len(amounts)`` when a row is missing or would pass its limit (the caller's transaction should
    then roll back)."""
    if not amounts:
        return 0
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = {f.name: quote(f.column or f.name) for f in model._meta.concrete_fields}
    columns = [column[name] for name in fields]
    limit = [column[name] for name in within] if within else None
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sets = ", ".join(f"{c} = {table}.{c} + v.n" for c in columns)
            guard = f" AND {table}.{limit[0]} + v.n <= {table}.{limit[1]}" if limit else ""
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM unnest(%s::bigint[], %s::integer[]) AS v(id, n) "  # noqa: S608
                f"WHERE {table}.id = v.id{guard}",
                [list(amounts), list(amounts.values())],
            )
            return cursor.rowcount
        sets = ", ".join(f"{c} = {c} + ?" for c in columns)
        guard = f" AND {limit[0]} + ? <= {limit[1]}" if limit else ""
        raw = cursor.cursor
        raw.executemany(
            f"UPDATE {table} SET {sets} WHERE id = ?{guard}",  # noqa: S608
            ((*([n] * len(columns)), pk, *([n] if limit else [])) for pk, n in amounts.items()),
        )
        return raw.rowcount
