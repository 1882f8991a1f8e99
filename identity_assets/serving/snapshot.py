"""The serving snapshot: what look-ups read, published apart from the warehouse.

A run holds the warehouse's write lock for minutes and DuckDB then lets no other process open
the file, not even read-only. So the end of a run publishes what look-ups need (journal,
profiles, identity map) into a SQLite file of its own, laid out for point reads: a look-up is a
few B-tree probes of microseconds each, where each DuckDB query costs milliseconds (decision
0020). Readers open the file a small pointer, `current`, names and never touch the warehouse.

A new version costs what changed. The serving stage consumes the change logs of the journal
and of the placements (decision 0006): in one SQLite transaction it copies the replaced days'
journal rows, writes the changed identities' rows that differ from the snapshot's (decision
0026), checks the counts and those identities, and commits; then the pointer is renamed over
the old one, and the days and identities applied are logged for the snapshot's checks. The
file is in WAL mode: a reader's transaction keeps the version it began on while the next one
commits, and never waits for it. The first publish, a full refresh, another phone region, or
changes the log cannot account for build a new file, `<version>.sqlite`, switched by the
pointer's atomic rename; the newest two files are kept, and a reader holding an older one open
finishes on it. The journal's index by identity has two parts, the rows folded and those
versions wrote since, so that a new day's entries leave the large part's pages alone, and the
identity map is two tables, folded and recent, read through one view, for the same reason; the
weekly compaction folds both (`fold`). Rows are written through the ADBC SQLite driver, as
Arrow, and read through `sqlite3`, never both at once in one process.
Decision records 0015, 0020, 0026, 0036, 0038 and 0039.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from identity_assets import changes, sql

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

TABLES = ("identity_journal", "customer_profiles", "identity_map")
POINTER = "current"
KEEP = 2
SUFFIX = ".sqlite"
CONSUMER = "serving"
# The change log the snapshot's checks read: each new version logs the days and identities it
# applied (decision 0016).
PRODUCER = "serving_snapshot"
# The producers whose change logs the snapshot follows: the journal writes a version whenever
# its rows or profiles change, the identity stage whenever placements (and the map) do.
_PRODUCERS = ("identity_journal", "event_placements")
# Which warehouse rows a new version reads again, by table (the temp tables _apply_changes
# stages): the journal's rows of the replaced days; the changed identities' profiles and
# identifiers, compared with the snapshot's. Rows moved on other days are not read: they
# follow the journal's log of moved rows.
_REPLACED_DAYS = "day in (select day from serving_journal_days)"
_CHANGED_ROWS = {
    "customer_profiles": "identity_id in (select identity_id from serving_changed)",
    "identity_map": "identity_id in (select identity_id from serving_changed)",
}
# The tables compared row by row: the columns a row differs by (they lead the snapshot query's
# columns) and the key a row is removed by. An identifier's UID2 hash is made from the
# identifier alone: the map's rows differ by identifier and identity, which the index by
# identity holds, so the snapshot's side is read without a look-up of each row (0.17-0.24 s for
# a 10M day's 148,790 rows, against 0.63-1.8 s with the hash). A change to how hashes are made
# comes with a full refresh, which builds a new file.
_DIFFERED = {
    "customer_profiles": (
        (
            "identity_id",
            "email",
            "phone",
            "name",
            "first_name",
            "last_name",
            "created_at",
            "traits",
        ),
        ("identity_id",),
    ),
    "identity_map": (
        ("identifier_type", "identifier_value", "identity_id"),
        ("identifier_type", "identifier_value"),
    ),
}
_STAGED = (
    "serving_journal_identities",
    "serving_journal_days",
    "serving_placed_identities",
    "serving_placed_days",
    "serving_moved_rows",
    "serving_changed",
)
# The tables a table's rows are stored in, by part (decision 0039): a new file writes the first,
# a version removes rows from either and writes the last; look-ups read the view named as the
# table.
_PARTS = {"identity_map": ("identity_map_folded", "identity_map_recent")}
_PARTS_SINCE_LAYOUT = 2
_BATCH = 20_000
# Rows per Arrow batch of a new file's ingest (decision 0038).
_ARROW_BATCH = 100_000
# The layout of a snapshot file, kept in SQLite's `user_version`: 1 since the journal's index
# by identity has two parts (decision 0036), 2 since the identity map has two (decision 0039).
# A file of an older layout is built anew by the next version, and read until then as it is
# (through a view that has the newer columns, where it lacks them).
LAYOUT = 2
_OLDER_LAYOUT_VIEWS = {
    0: "create temp view identity_journal as select *, 0 as recent from main.identity_journal",
}
# The page cache of the writer of a version, in KiB (SQLite's default is 2 MiB). A version
# changes rows all over the journal's identity index: with a small cache the pages it dirtied
# are spilled to the WAL mid-transaction and written again when touched again (at 10M events
# its changes took 36-42 s with the default, 15-21 s with this; decision 0028). The cache
# grows only as pages are used.
_WRITER_CACHE_KIB = 1 << 20
# How long the writer waits for a lock another process holds before it gives up, in ms: the
# 5 s Python's `sqlite3` waits by default, where the ADBC driver would not wait at all.
_WRITER_BUSY_MS = 5_000
# The rows per batch of what the writer reads: all of them (the driver's largest).
_ONE_BATCH = (1 << 31) - 2
# What a scoped check counts in the snapshot (table, column, the staged keys, the label of a
# part): the journal's rows per changed day, profiles and identifiers per changed identity.
# Not the journal's rows per changed identity: those are the whole histories of the day's
# people, more than the day; a version's own arithmetic counts its moved rows, and the sweep
# counts whole tables.
_COUNTED = (
    ("identity_journal", "day", "check_days", "day"),
    ("customer_profiles", "identity_id", "check_identities", "identity"),
    ("identity_map", "identity_id", "check_identities", "identity"),
)


class SnapshotMissing(RuntimeError):
    """No snapshot has been published in the serving directory yet."""


class SnapshotMismatch(RuntimeError):
    """A snapshot just written does not hold what the warehouse holds."""


@dataclass(frozen=True)
class Pointer:
    """What `current` says: the published version, its file and what it holds."""

    version: int
    file: str
    counts: dict[str, int]
    phone_region: str
    published_at: str


@dataclass(frozen=True)
class Applied:
    """What a version made of changes did: identities changed, journal rows copied, the rows
    removed from and written to each table."""

    identities: int
    journal_rows: int
    removed: dict[str, int]
    written: dict[str, int]
    recent: dict[str, int]


@dataclass(frozen=True)
class Published:
    """The outcome of `publish`: the pointer in force, whether this call wrote it, and how:
    `full` (a new file), `changes` (the changed identities applied in place) or `none`."""

    pointer: Pointer
    written: bool
    removed: list[str] = field(default_factory=list)
    mode: str = "none"
    identities: int = 0
    journal_rows: int = 0
    removed_rows: dict[str, int] = field(default_factory=dict)
    written_rows: dict[str, int] = field(default_factory=dict)
    recent_journal_rows: int = 0  # in the recent part of the index by identity (decision 0036)
    recent_identifier_rows: int = 0  # in the identity map's recent part (decision 0039)


def table_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of each table the snapshot holds, in the warehouse."""
    selects = ", ".join(f"(select count(*) from {table})" for table in TABLES)
    row = conn.execute(f"select {selects}").fetchall()[0]
    return dict(zip(TABLES, row, strict=True))


def snapshot_counts(snap: sqlite3.Connection) -> dict[str, int]:
    """Rows of each table in a snapshot."""
    selects = ", ".join(f"(select count(*) from {table})" for table in TABLES)
    row = snap.execute(f"select {selects}").fetchall()[0]
    return dict(zip(TABLES, row, strict=True))


def read_pointer(root: Path) -> Pointer | None:
    """The published snapshot, or None before the first."""
    try:
        text = (Path(root) / POINTER).read_text()
    except FileNotFoundError:
        return None
    return Pointer(**json.loads(text))


def publish(
    conn: duckdb.DuckDBPyConnection,
    root: Path,
    phone_region: str,
    keep: int = KEEP,
    rebuild: bool = False,
) -> Published:
    """Bring the published snapshot up to the warehouse: nothing when it holds this version
    already, the changed identities applied in place when the change logs say which, else a
    new file (always when `rebuild`); then remove all but the newest `keep` files."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    counts = table_counts(conn)
    journal, placements = (changes.pending(conn, CONSUMER, p) for p in _PRODUCERS)
    # Placements the journal has not taken in yet have not moved its rows: they wait for it.
    taken_in = changes.pending(conn, "journal", "event_placements").since
    pending = [journal, replace(placements, through=min(placements.through, taken_in))]
    version = max(p.through for p in pending)
    current = read_pointer(root)
    in_step = (
        not rebuild
        and current is not None
        and current.file.endswith(SUFFIX)
        and (root / current.file).exists()
        and current.phone_region == phone_region
        and not any(p.first for p in pending)
        and current.version == max(p.since for p in pending)
        # a snapshot behind journal versions that logged no moved rows is built anew, once
        and changes.rows_logged(conn, journal)
    )
    if in_step and not any(p.any for p in pending) and current.counts == counts:
        return Published(current, written=False, **_recent_rows(root / current.file))
    stamp = (version, phone_region, datetime.now(UTC).replace(tzinfo=None))
    try:
        applied = (
            _apply_changes(conn, root / current.file, pending, stamp, current.counts)
            if in_step
            else None
        )
        if applied is not None:
            name, mode = current.file, "changes"
        else:
            name, mode = _build(conn, root, stamp), "full"
        pointer = Pointer(version, name, counts, phone_region, stamp[2].isoformat() + "Z")
        _write_atomically(root / POINTER, json.dumps(asdict(pointer)))
        with sql.transaction(conn):
            for taken in pending:
                changes.consume(conn, taken)
            # what the checks of the snapshot verify: the days and identities applied (a new
            # file is another one to them: they verify it whole)
            if applied is not None:
                logged = changes.new_version(conn, PRODUCER)
                changes.log_days(conn, logged, "select day from serving_journal_days")
                changes.log_identities(conn, logged, "select identity_id from serving_changed")
    finally:
        for table in _STAGED:
            conn.execute(f"drop table if exists {table}")
    removed = _remove_old(root, name, keep)
    if applied is None:
        return Published(pointer, True, removed, mode, **_recent_rows(root / name))
    return Published(
        pointer,
        True,
        removed,
        mode,
        applied.identities,
        applied.journal_rows,
        applied.removed,
        applied.written,
        **applied.recent,
    )


def _build(conn: duckdb.DuckDBPyConnection, root: Path, stamp: tuple) -> str:
    """A new snapshot file of every look-up row, checked against the warehouse; its name."""
    version = stamp[0]
    for stale in root.glob(".*.tmp*"):
        stale.unlink()
    name = _fresh_name(root, version)
    partial = root / f".{name}.tmp"
    with closing(sqlite3.connect(partial, isolation_level=None)) as snap:
        snap.executescript(sql.load("serving/snapshot_tables"))
    _ingest_rows(conn, partial)
    snap = sqlite3.connect(partial, isolation_level=None)
    try:
        snap.execute("pragma journal_mode = off")
        snap.execute("pragma synchronous = off")
        _stamp(snap, *stamp)
        snap.executescript(sql.load("serving/snapshot_indexes"))
        _analyze(snap)
        snap.execute(f"pragma user_version = {LAYOUT}")
        snap.execute("pragma journal_mode = wal")
        problems = differences(conn, snap)
    finally:
        snap.close()
    if problems:
        partial.unlink()
        raise SnapshotMismatch(f"the snapshot of version {version} differs: {problems}")
    _sync(partial)
    os.replace(partial, root / name)
    _sync(root)
    return name


def _ingest_rows(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Every look-up row into the new file at `path`, as Arrow batches that the ADBC SQLite
    driver binds in C: no row becomes a Python object. At 10M events the journal's rows went in
    2.4 times as fast as fetched into Python and inserted through `sqlite3` (decision 0038).
    Not through `_writer`: a new file needs no journal, no durable commit and no large cache
    (its pages are written once). The driver is imported where it is used, not with the
    definitions: with pyarrow's datasets it took 0.26 s of every load of them."""
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    with adbc_sqlite.connect(str(path), autocommit=True) as snap, snap.cursor() as cursor:
        cursor.execute("pragma journal_mode = off")
        cursor.execute("pragma synchronous = off")
        for table in TABLES:
            with _selected(conn, table, "true") as query:
                rows = conn.sql(query).to_arrow_reader(_ARROW_BATCH)
                cursor.adbc_ingest(_parts(table)[0], rows, mode="append")


def _fresh_name(root: Path, version: int) -> str:
    """`<version>.sqlite`, or `<version>.<n>.sqlite` when a rebuild of the same version finds
    that name taken: a new file never meets WAL files left beside an old one."""
    n = 0
    while any(root.glob(f"{version}{f'.{n}' if n else ''}{SUFFIX}*")):
        n += 1
    return f"{version}{f'.{n}' if n else ''}{SUFFIX}"


def _apply_changes(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    pending: list[changes.Pending],
    stamp: tuple,
    counts: dict[str, int],
) -> Applied | None:
    """Bring the snapshot at `path`, which held `counts` rows, up to the warehouse by what
    changed, in one transaction that commits only when the changed identities check out and
    the rows it removed and wrote bring each table to the warehouse's count; what it did, or
    None (nothing written) when they do not or the file is of an older layout: the caller
    builds anew.

    The journal's rows of the replaced days are copied again, and those it moved on other days
    follow its log of moved rows, in place. The changed identities' profiles and identifiers
    are compared with the snapshot's and only the rows that differ are removed and written: an
    identity back for a day has nearly always the same identifiers, and often the same
    profile. Every row goes in as Arrow through the writer (`_writer`)."""
    journal, placements = pending
    changes.stage_identities(conn, journal, "serving_journal_identities")
    changes.stage_days(conn, journal, "serving_journal_days")
    changes.stage_identities(conn, placements, "serving_placed_identities")
    changes.stage_days(conn, placements, "serving_placed_days")
    changes.stage_rows(conn, journal, "serving_moved_rows")
    conn.execute(sql.load("serving/changed_identities"))
    from adbc_driver_manager import IntegrityError

    with _writer(path) as snap:
        if _layout(snap) != LAYOUT:
            return None
        snap.execute("begin immediate")
        staged = {
            "changed": ("identity_id text primary key, live integer", "* from serving_changed"),
            "changed_days": (
                "day text primary key",
                "strftime(day, '%Y-%m-%d') as day from serving_journal_days",
            ),
        }
        for table, (columns, source) in staged.items():
            snap.execute(f"create temp table {table} ({columns})")
            _write(snap, table, conn.sql(_in_key_order(f"select {source}")).to_arrow_table())
        removed = dict.fromkeys(TABLES, 0)
        written = dict.fromkeys(TABLES, 0)
        removed["identity_journal"] = _changed(
            snap, "delete from identity_journal where day in (select day from temp.changed_days)"
        )
        try:
            with _selected(conn, "identity_journal", _REPLACED_DAYS) as query:
                days = snap.adbc_ingest(
                    "identity_journal",
                    conn.sql(f"select *, 1 as recent from ({query})").to_arrow_reader(_ARROW_BATCH),
                    mode="append",
                )
            moved_out, moved_in = _apply_moved_rows(conn, snap)
            removed["identity_journal"] += moved_out
            written["identity_journal"] = days + moved_in
            for table in ("customer_profiles", "identity_map"):
                removed[table], written[table] = _apply_differences(conn, table, snap)
        except (_OutOfStep, IntegrityError):
            snap.execute("rollback")
            return None
        snap.execute(sql.load("serving/unserved_changed_identities"))
        unserved = snap.fetchall()[0][0]
        held = {table: counts.get(table, 0) - removed[table] + written[table] for table in TABLES}
        if unserved or held != table_counts(conn):
            snap.execute("rollback")
            return None
        _stamp(snap, *stamp)
        _analyze(snap, _parts("identity_map")[-1])
        snap.execute("commit")
        recent = _recent_counts(snap)
    identities = conn.execute("select count(*) from serving_changed").fetchall()[0][0]
    return Applied(identities, written["identity_journal"], removed, written, recent)


class _OutOfStep(Exception):
    """The snapshot does not hold what the journal's log of moved rows says it does."""


def _apply_moved_rows(conn: duckdb.DuckDBPyConnection, snap: Cursor) -> tuple[int, int]:
    """Follow the rows the journal logged as moved, outside the replaced days: a row keeps its
    event's content and takes its new identity in place, found by the identity it left and
    its event; a row that left the journal is removed. How many rows were removed and written
    (a move is both). A logged row the snapshot does not hold where the log says raises
    _OutOfStep: the snapshot is then out of step, and built anew."""
    conn.execute(
        f"create or replace temp table serving_moved as {sql.load('serving/moved_journal_rows')}"
    )
    try:
        moved, gone = (
            conn.sql(f"select {columns} from serving_moved where {where}").to_arrow_table()
            for columns, where in (
                ("identity_id, previous_identity_id, event_id", "identity_id is not null"),
                ("previous_identity_id, event_id", "identity_id is null"),
            )
        )
    finally:
        conn.execute("drop table if exists serving_moved")
    written = _each(
        snap,
        "update identity_journal set identity_id = ? "
        "where recent in (0, 1) and identity_id = ? and event_id = ?",
        moved,
    )
    removed = _each(
        snap,
        "delete from identity_journal where recent in (0, 1) and identity_id = ? and event_id = ?",
        gone,
    )
    if written != moved.num_rows or removed != gone.num_rows:
        raise _OutOfStep("the snapshot does not hold the journal's moved rows")
    return moved.num_rows + gone.num_rows, moved.num_rows


def _apply_differences(
    conn: duckdb.DuckDBPyConnection, table: str, snap: Cursor
) -> tuple[int, int]:
    """Make the changed identities' rows of `table` in the snapshot the warehouse's: remove
    the snapshot's rows the warehouse does not hold, write those it lacks (a changed row is
    both); how many rows were removed and written. The snapshot's rows are compared with the
    warehouse's in DuckDB, so no row becomes a Python value: at 10M events a day's 120,000
    changed profiles nearly all match. A row the warehouse holds twice is written once: the
    counts then differ and the version is built anew."""
    compared, key = _DIFFERED[table]
    snap.execute(
        f"select {', '.join(compared)} from {table} "
        "where identity_id in (select identity_id from temp.changed)"
    )
    # a column of nulls only comes as integers (`_writer`): every column is given the text it holds
    held = snap.fetch_arrow_table().cast(pa.schema([(column, pa.string()) for column in compared]))
    columns = {
        "compared": ", ".join(compared),
        "key": ", ".join(key),
        "matched": " and ".join(f"w.{c} is not distinct from d.{c}" for c in compared),
    }
    with sql.registered(conn, "serving_held", held):
        try:
            with _selected(conn, table, _CHANGED_ROWS[table]) as query:
                conn.execute(f"create or replace temp table serving_wanted as {query}")
            gone, new = (
                conn.sql(sql.load(name).format(**columns)).to_arrow_table()
                for name in ("serving/snapshot_rows_removed", "serving/snapshot_rows_written")
            )
        finally:
            conn.execute("drop table if exists serving_wanted")
    where = " and ".join(f"{column} = ?" for column in key)
    parts = _parts(table)
    removed = sum(_each(snap, f"delete from {part} where {where}", gone) for part in parts)
    _write(snap, parts[-1], new)
    return removed, new.num_rows


def _each(snap: Cursor, statement: str, rows: pa.Table) -> int:
    """Run `statement` once per row of `rows`, bound in C; how many rows it changed."""
    if not rows.num_rows:
        return 0
    snap.executemany(statement, rows)
    return max(snap.rowcount, 0)


def _changed(snap: Cursor, statement: str) -> int:
    """Run one statement that writes; how many rows it changed, as SQLite counts them (the
    driver gives no row count for a single statement)."""
    snap.execute(statement)
    snap.execute("select changes()")
    return snap.fetchall()[0][0]


def _write(snap: Cursor, table: str, rows: pa.Table) -> None:
    """`rows` into the snapshot's `table`, by column name; a duplicate key raises the driver's
    IntegrityError."""
    names = ", ".join(rows.column_names)
    _each(snap, f"insert into {table} ({names}) values ({', '.join('?' * rows.num_columns)})", rows)


def _in_key_order(query: str) -> str:
    """`query`, whose first column is the key of the SQLite table its rows go into, in key
    order: each insert then lands on the page the one before it did, where rows in DuckDB's
    order land on any page (120,000 identities into a temp table: 0.08 s sorted, 0.42 s not).
    The snapshot's own rows come sorted by their queries (`serving/snapshot_*.sql`)."""
    return f"{query} order by 1"


def _arrow(
    rows: Iterable[tuple], columns: Sequence[str], types: Sequence[pa.DataType] = ()
) -> pa.Table:
    """A reader's rows as an Arrow table for DuckDB to read, its `columns` text unless `types`
    says otherwise: the tuples become one struct array in C, ten times as fast as a Python
    list per column (0.02 s against 0.25 s for 120,000 identities)."""
    types = types or (pa.string(),) * len(columns)
    shape = pa.struct(list(zip(columns, types, strict=True)))
    return pa.Table.from_struct_array(pa.array(list(rows), type=shape))


@contextmanager
def _selected(conn: duckdb.DuckDBPyConnection, table: str, where: str) -> Iterator[str]:
    """The query of the warehouse rows of `table` that `where` selects, shaped as the snapshot
    holds them by `serving/snapshot_<table>.sql` (which reads them as `serving_<table>`)."""
    view = f"serving_{table}"
    conn.execute(f"create or replace temp view {view} as select * from {table} where {where}")
    try:
        yield sql.load(f"serving/snapshot_{table}")
    finally:
        conn.execute(f"drop view if exists {view}")


def _stage(
    conn: duckdb.DuckDBPyConnection, query: str, snap: sqlite3.Connection, table: str
) -> None:
    """The one-column rows of a warehouse query as a reader's temp table `table(key)`, a batch
    at a time. A table that already holds them, by a digest of the rows recorded with them, is
    kept: the snapshot's checks of a run stage the same days and identities (0.09-0.17 s for
    the 58,798 identities of a 10M day)."""
    (digest,) = conn.execute(
        f"select count(*) || ':' || coalesce(bit_xor(hash(k)), 0) from ({query}) as t (k)"
    ).fetchall()[0]
    snap.execute(f"create temp table if not exists {table} (key text primary key)")
    snap.execute("create temp table if not exists staged (name text primary key, digest text)")
    held = snap.execute("select digest from temp.staged where name = ?", [table]).fetchall()
    if held == [(digest,)]:
        return
    snap.execute(f"delete from temp.{table}")
    result = conn.execute(query)
    while rows := result.fetchmany(_BATCH):
        snap.executemany(f"insert into temp.{table} values (?)", rows)
    snap.execute("insert or replace into temp.staged values (?, ?)", [table, digest])


def _stamp(
    snap: sqlite3.Connection | Cursor, version: int, phone_region: str, published_at: datetime
) -> None:
    """Record in the snapshot which version it holds, in the transaction that writes it."""
    snap.execute("delete from snapshot_info")
    snap.execute(
        "insert into snapshot_info values (?, ?, ?)",
        [version, phone_region, published_at.isoformat()],
    )


@contextmanager
def compared(
    conn: duckdb.DuckDBPyConnection,
    snap: sqlite3.Connection,
    scoped: bool = False,
    counts: bool = True,
    identities: bool = True,
) -> Iterator[None]:
    """What the snapshot holds, as temp tables on `conn` for the checks' SQL: with `counts`,
    `snapshot_counts` (table_name, part, snapshot_rows); with `identities`, the identities it
    can answer for, `snapshot_profiles` and `snapshot_identifiers` (each check reads only what
    its query needs). Whole, the counts are of whole tables (part `all`) and every identity is
    read. `scoped`, only the days and identities a check stages on `conn` (`check_days`,
    `check_identities`) are read: the journal's rows per changed day, and profiles and
    identifiers per changed identity."""
    made = []
    if scoped:
        for table, column in (
            ("check_days", "strftime(day, '%Y-%m-%d')"),
            ("check_identities", "identity_id"),
        ):
            _stage(conn, _in_key_order(f"select {column} from {table}"), snap, table)
        within = "where identity_id in (select key from temp.check_identities)"
    else:
        within = ""
    try:
        if counts:
            made.append("snapshot_counts")
            _register_counts(conn, snap, scoped)
        if identities:
            views = {
                "snapshot_profiles": f"select identity_id from customer_profiles {within}",
                # not `distinct`: SQLite reads the view's two parts by index only when it can
                # flatten it into the query
                "snapshot_identifiers": f"select identity_id from identity_map {within}",
            }
            for view, query in views.items():
                made.append(view)
                rows = _arrow(snap.execute(query), ("identity_id",))
                with sql.registered(conn, "snapshot_rows", rows):
                    conn.execute(
                        f"create or replace temp table {view} as "
                        "select distinct identity_id from snapshot_rows"
                    )
        yield
    finally:
        for table in made:
            conn.execute(f"drop table if exists {table}")


def _register_counts(
    conn: duckdb.DuckDBPyConnection, snap: sqlite3.Connection, scoped: bool
) -> None:
    """`snapshot_counts` on `conn`: the snapshot's rows per staged day and identity, or of
    whole tables."""
    if scoped:
        query = sql.load("serving/snapshot_changed_counts")
        counts = (
            row
            for table, column, keys, label in _COUNTED
            for part in _stored_in(snap, table)
            for row in snap.execute(
                query.format(table=part, name=table, column=column, keys=keys, label=label)
            )
        )
    else:
        counts = (("all", table, rows) for table, rows in snapshot_counts(snap).items())
    columns = ("part", "table_name", "snapshot_rows")
    rows = _arrow(counts, columns, (pa.string(), pa.string(), pa.int64()))
    with sql.registered(conn, "snapshot_count_rows", rows):
        conn.execute(
            "create or replace temp table snapshot_counts as "
            "select part, table_name, sum(snapshot_rows)::bigint as snapshot_rows "
            "from snapshot_count_rows group by all"
        )


def differences(conn: duckdb.DuckDBPyConnection, snap: sqlite3.Connection) -> dict[str, object]:
    """How a snapshot differs from the warehouse: counts, identities it cannot answer for."""
    # the whole snapshot: every identity is one the checks' SQL looks at
    conn.execute("create or replace temp macro changed_identity(x) as true")
    with compared(conn, snap):
        counts = conn.execute(sql.load("serving/check_snapshot_counts")).fetchall()
        missing = conn.execute(
            f"select count(*) from ({sql.load('serving/check_every_identity_served')})"
        ).fetchall()[0][0]
    problems: dict[str, object] = {}
    if counts:
        problems["counts"] = {table: (ours, theirs) for table, ours, theirs in counts}
    if missing:
        problems["identities_missing"] = missing
    return problems


def _remove_old(root: Path, current: str, keep: int) -> list[str]:
    """Remove snapshots beyond the newest `keep` (the current one always stays), with their
    WAL files. A reader still holding a removed file open finishes on it."""
    others = sorted(
        (
            path
            for pattern in (f"*{SUFFIX}", "*.duckdb")
            for path in root.glob(pattern)
            if path.name != current
        ),
        key=lambda path: path.stat().st_mtime_ns,
        reverse=True,
    )
    removed = []
    for path in others[max(keep - 1, 0) :]:
        for companion in (path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
            with suppress(FileNotFoundError):
                companion.unlink()
        with suppress(FileNotFoundError):
            path.unlink()
            removed.append(path.name)
    return removed


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text(text)
    _sync(partial)
    os.replace(partial, path)
    _sync(path.parent)


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _connect(path: Path) -> sqlite3.Connection:
    """A reader of a snapshot, in autocommit mode: it only reads and may be used by any
    thread."""
    _settled(path)
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    snap = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    view = _OLDER_LAYOUT_VIEWS.get(_layout(snap))
    if view is not None:
        snap.execute(view)
    return snap


@contextmanager
def _writer(path: Path) -> Iterator[Cursor]:
    """The writer of a version or a fold: a cursor of the ADBC SQLite driver, which binds Arrow
    rows in C (a 10M day's 371,802 journal rows in 1.5 s, against 2.3 s fetched into Python and
    bound by `sqlite3`), in autocommit mode: its statements say where the transaction is.
    Commits are durable, and the page cache large. The driver holds its own copy of SQLite, and
    two copies must not hold one file in a process at once (each would drop the other's locks
    as it closes): this process opens a snapshot through `sqlite3` only to read it, never
    while a writer is open, and look-ups read from processes of their own (decision 0038).

    A commit leaves its pages in the write-ahead log, durable there and read from there, and
    the writer copies them into the file afterwards, in a thread of its own (`_checkpoint`)
    while the pipeline goes on: a 10M day's 0.86 s checkpoint no longer holds up the run. The
    process's next reader or writer of the file waits for it (`_settled`)."""
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    _settled(path)
    connection = adbc_sqlite.connect(str(path), autocommit=True)
    cursor = connection.cursor()
    try:
        # as `sqlite3` does by default: wait for a lock another process holds a moment
        cursor.execute(f"pragma busy_timeout = {_WRITER_BUSY_MS}")
        cursor.execute("pragma synchronous = full")
        cursor.execute(f"pragma cache_size = -{_WRITER_CACHE_KIB}")
        cursor.execute("pragma temp_store = memory")
        cursor.execute("pragma wal_autocheckpoint = 0")
        # SQLite's values have no declared type, and the driver types a result's column by its
        # first batch: a column null in the first 1,024 rows and text later would fail. The
        # writer's few result sets come whole, in one batch
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_ONE_BATCH)})
        yield cursor
    except BaseException:
        cursor.close()
        connection.close()
        raise
    thread = threading.Thread(
        target=_checkpoint, args=(connection, cursor), name=f"checkpoint of {path.name}"
    )
    _CHECKPOINTS[Path(path).resolve()] = thread
    thread.start()


# The checkpoints under way in this process, by file: not daemons, so an exit waits for them.
_CHECKPOINTS: dict[Path, threading.Thread] = {}


def _checkpoint(connection: Connection, cursor: Cursor) -> None:
    """Copy the writer's committed pages from the write-ahead log into the file (as many as the
    readers of other processes allow, as SQLite's own checkpoint after a commit would), then
    close the writer. A checkpoint that fails loses nothing: the pages stay in the log, which
    the next checkpoint copies."""
    try:
        cursor.execute("pragma wal_checkpoint(passive)")
        cursor.fetchall()
    finally:
        cursor.close()
        connection.close()


def _settled(path: Path) -> None:
    """Wait for this process's checkpoint of the file at `path`, if one is under way."""
    thread = _CHECKPOINTS.pop(Path(path).resolve(), None)
    if thread is not None:
        thread.join()


def _recent_rows(path: Path) -> dict[str, int]:
    """The rows in the recent parts of the file at `path`, counted by a reader."""
    with closing(_connect(path)) as reader:
        return _recent_counts(reader)


def _recent_counts(snap: sqlite3.Connection | Cursor) -> dict[str, int]:
    """The rows in the recent parts, of the journal's index by identity and of the identity map:
    what the next fold folds (0.02-0.05 s for a 10M day's 371,802 journal rows)."""
    journal = _value(snap, "select count(*) from identity_journal where recent = 1")
    identifiers = (
        _value(snap, "select count(*) from identity_map_recent")
        if _layout(snap) >= _PARTS_SINCE_LAYOUT
        else 0
    )
    return {"recent_journal_rows": journal, "recent_identifier_rows": identifiers}


def _analyze(snap: sqlite3.Connection | Cursor, table: str = "") -> None:
    """Give SQLite's planner the shape of the file's indexes (of `table`, or all), from a
    sample of each: without it, a look-up by UID2 hash read every identifier of its type in key
    order (0.1-0.25 s at 10M events) instead of probing the index by hash (50 us). A version
    takes it again only for the map's recent part, whose size it changes most: the driver's
    SQLite 3.53 counts every row of the journal's indexes (0.2-1.7 s at 10M events), where the
    3.40 of `sqlite3` that analyzes a new file samples all of them in 10 ms."""
    snap.execute("pragma analysis_limit = 1000")
    snap.execute(f"analyze {table}")


def _parts(table: str) -> tuple[str, ...]:
    """The tables `table`'s rows are stored in, in a file of the current layout."""
    return _PARTS.get(table, (table,))


def _stored_in(snap: sqlite3.Connection, table: str) -> tuple[str, ...]:
    """The tables `table`'s rows are stored in, in this file: its parts, unless the file is of a
    layout from before they were (a run with nothing new keeps such a file, and checks it)."""
    return _parts(table) if _layout(snap) >= _PARTS_SINCE_LAYOUT else (table,)


def _layout(snap: sqlite3.Connection | Cursor) -> int:
    """The file's layout."""
    return _value(snap, "pragma user_version")


def _value(snap: sqlite3.Connection | Cursor, query: str) -> int:
    """The one value `query` returns, read by a reader's connection or the writer's cursor
    (whose `execute` returns nothing)."""
    result = snap.execute(query)
    return (result or snap).fetchall()[0][0]


@dataclass(frozen=True)
class Folded:
    """The outcome of `fold`: the journal rows and identifiers moved to the folded parts, in
    what time."""

    rows: int
    seconds: float
    identifiers: int = 0


def fold(root: Path) -> Folded:
    """Fold the journal rows and identifiers versions wrote since the last fold into the large
    parts (of the journal's index by identity, of the identity map), in the published file, in
    one transaction (readers keep the version they began on). It rewrites those parts' pages
    once, which a day's version no longer does; the weekly compaction calls it (decisions 0036
    and 0039). Nothing to fold before the first publish or on a file of an older layout, which
    the next version builds anew."""
    started = time.perf_counter()
    try:
        _, path = _find(Path(root))
    except SnapshotMissing:
        return Folded(0, 0.0)
    with _writer(path) as snap:
        if _layout(snap) != LAYOUT:
            return Folded(0, 0.0)
        snap.execute("begin immediate")
        rows = _changed(snap, "update identity_journal set recent = 0 where recent = 1")
        identifiers = _changed(
            snap, "insert into identity_map_folded select * from identity_map_recent"
        )
        snap.execute("delete from identity_map_recent")
        _analyze(snap)
        snap.execute("commit")
    return Folded(rows, time.perf_counter() - started, identifiers)


@contextmanager
def open_current(root: Path) -> Iterator[tuple[Pointer, sqlite3.Connection]]:
    """The published snapshot, opened read-only: for a one-off look-up (the command line)."""
    pointer, path = _find(Path(root))
    conn = _connect(path)
    try:
        conn.execute("begin")
        yield pointer, conn
    finally:
        conn.close()


def _find(root: Path) -> tuple[Pointer, Path]:
    # A publish between reading the pointer and opening its file can remove that file only
    # after two more versions: reading the pointer again finds a file that is there.
    for _ in range(3):
        pointer = read_pointer(root)
        if pointer is None:
            raise SnapshotMissing(
                f"no serving snapshot in {root}: run `identity-assets run --all` first "
                "(or set IDENTITY_SERVING_DIR)"
            )
        path = root / pointer.file
        if path.exists():
            return pointer, path
    raise SnapshotMissing(f"the snapshot {root / pointer.file} named by {root / POINTER} is gone")


class _Opened:
    """One published version for the service: a reader connection per thread, opened on first
    use (a SQLite connection serves one statement at a time)."""

    def __init__(self, pointer: Pointer, path: Path) -> None:
        self.pointer = pointer
        self.path = path
        self.users = 0
        self.retired = False
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
            with self._lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


class SnapshotSource:
    """The current snapshot for a long-running reader (the service), switching when a new one
    is published. Each look-up leases the version current when it starts and reads it in one
    transaction, so it finishes on that version while the next one commits; a version no
    look-up holds any more is closed once a newer one has replaced it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._opened: _Opened | None = None
        self._seen: tuple[int, int, int] | None = None

    @contextmanager
    def lease(self) -> Iterator[tuple[Pointer, sqlite3.Connection]]:
        """The current version and this thread's connection to it, in a read transaction."""
        opened = self._current()
        try:
            conn = opened.connection()
            conn.execute("begin")
            try:
                yield opened.pointer, conn
            finally:
                conn.execute("rollback")
        finally:
            with self._lock:
                opened.users -= 1
                if opened.retired and opened.users == 0:
                    opened.close()

    def current_pointer(self) -> Pointer | None:
        """The version new look-ups get (None before the first publish)."""
        try:
            opened = self._current()
        except SnapshotMissing:
            return None
        with self._lock:
            opened.users -= 1
            if opened.retired and opened.users == 0:
                opened.close()
        return opened.pointer

    def close(self) -> None:
        with self._lock:
            if self._opened is not None:
                self._opened.retired = True
                if self._opened.users == 0:
                    self._opened.close()
                self._opened = None

    def _current(self) -> _Opened:
        """The current version, leased (users + 1); a changed pointer opens the new one."""
        try:
            status = os.stat(self.root / POINTER)
            seen = (status.st_ino, status.st_mtime_ns, status.st_size)
        except FileNotFoundError:
            seen = None
        with self._lock:
            if seen is not None and seen != self._seen:
                pointer, path = _find(self.root)
                previous = self._opened
                self._opened, self._seen = _Opened(pointer, path), seen
                if previous is not None:
                    previous.retired = True
                    if previous.users == 0:
                        previous.close()
            if self._opened is None:
                raise SnapshotMissing(
                    f"no serving snapshot in {self.root}: run `identity-assets run --all` first"
                )
            self._opened.users += 1
            return self._opened
