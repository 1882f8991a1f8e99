"""The serving snapshot: what look-ups read, published apart from the warehouse.

A run holds the warehouse's write lock for minutes and DuckDB then lets no other process open
the file, not even read-only. So the end of a run copies what look-ups need (journal, profiles,
identity map) into a DuckDB file of its own, `<serving dir>/<version>.duckdb`, and renames a
small pointer file, `current`, into place. Readers open the file the pointer names, read-only,
and never touch the warehouse. The rename is atomic: a reader sees the old version or the new
one, never half of one, and one holding the old file open keeps reading it (an unlinked file
lives on while it is open). The newest two versions are kept. Decision record 0015.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from identity_assets import changes, sql

TABLES = ("identity_journal", "customer_profiles", "identity_map", "identifiers")
POINTER = "current"
KEEP = 2
# The producers whose change versions the snapshot's tables follow: the journal writes a version
# whenever its rows or profiles change, the identity stage whenever placements (and the map) do.
_PRODUCERS = ("identity_journal", "event_placements")


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
class Published:
    """The outcome of `publish`: the pointer in force and whether this call wrote it."""

    pointer: Pointer
    written: bool
    removed: list[str] = field(default_factory=list)


def input_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The newest change version of the tables the snapshot copies (one warehouse-wide sequence,
    so the larger of the two names the state of both)."""
    return max(changes.latest_version(conn, producer) for producer in _PRODUCERS)


def table_counts(conn: duckdb.DuckDBPyConnection, database: str | None = None) -> dict[str, int]:
    """Rows of each copied table, in the warehouse or in an attached snapshot."""
    prefix = f"{database}." if database else ""
    selects = ", ".join(f"(select count(*) from {prefix}{table})" for table in TABLES)
    row = conn.execute(f"select {selects}").fetchall()[0]
    return dict(zip(TABLES, row, strict=True))


def read_pointer(root: Path) -> Pointer | None:
    """The published snapshot, or None before the first."""
    try:
        text = (Path(root) / POINTER).read_text()
    except FileNotFoundError:
        return None
    return Pointer(**json.loads(text))


def publish(
    conn: duckdb.DuckDBPyConnection, root: Path, phone_region: str, keep: int = KEEP
) -> Published:
    """Publish the warehouse's look-up tables as a new snapshot, unless the current one already
    holds this version of them; then remove all but the newest `keep` snapshots."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    version = input_version(conn)
    counts = table_counts(conn)
    current = read_pointer(root)
    if (
        current is not None
        and current.version == version
        and current.counts == counts
        and current.phone_region == phone_region
        and (root / current.file).exists()
    ):
        return Published(current, written=False)
    for stale in root.glob(".*.tmp*"):
        stale.unlink()
    name = f"{version}.duckdb"
    partial = root / f".{name}.tmp"
    published_at = datetime.now(UTC).replace(tzinfo=None)
    with attached(conn, partial, read_only=False):
        conn.execute(sql.load("serving/copy_tables"))
        conn.execute(
            "insert into snapshot.snapshot_info values ($version, $region, $at)",
            {"version": version, "region": phone_region, "at": published_at},
        )
        conn.execute("checkpoint snapshot")
    problems = differences(conn, partial)
    if problems:
        partial.unlink()
        raise SnapshotMismatch(f"the snapshot of version {version} differs: {problems}")
    _sync(partial)
    os.replace(partial, root / name)
    pointer = Pointer(version, name, counts, phone_region, published_at.isoformat() + "Z")
    _write_atomically(root / POINTER, json.dumps(asdict(pointer)))
    return Published(pointer, written=True, removed=_remove_old(root, name, keep))


def differences(conn: duckdb.DuckDBPyConnection, path: Path) -> dict[str, object]:
    """How the snapshot at `path` differs from the warehouse: counts, identities it lacks."""
    with attached(conn, path, read_only=True):
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


@contextmanager
def attached(conn: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> Iterator[None]:
    """`path` attached to `conn` as `snapshot` for the block."""
    quoted = str(path).replace("'", "''")
    mode = " (read_only)" if read_only else ""
    conn.execute(f"attach '{quoted}' as snapshot{mode}")
    try:
        yield
    finally:
        conn.execute("detach snapshot")


def _remove_old(root: Path, current: str, keep: int) -> list[str]:
    """Remove snapshots beyond the newest `keep` (the current one always stays). A reader still
    holding a removed file open finishes on it."""
    others = sorted(
        (path for path in root.glob("*.duckdb") if path.name != current),
        key=lambda path: path.stat().st_mtime_ns,
        reverse=True,
    )
    removed = []
    for path in others[max(keep - 1, 0) :]:
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


@contextmanager
def open_current(root: Path) -> Iterator[tuple[Pointer, duckdb.DuckDBPyConnection]]:
    """The published snapshot, opened read-only: for a one-off look-up (the command line)."""
    pointer, conn = _open(Path(root))
    try:
        yield pointer, conn
    finally:
        conn.close()


def _open(root: Path) -> tuple[Pointer, duckdb.DuckDBPyConnection]:
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
            with suppress(duckdb.IOException):
                return pointer, duckdb.connect(str(path), read_only=True)
    raise SnapshotMissing(f"the snapshot {root / pointer.file} named by {root / POINTER} is gone")


class _Opened:
    def __init__(self, pointer: Pointer, conn: duckdb.DuckDBPyConnection) -> None:
        self.pointer = pointer
        self.conn = conn
        self.users = 0
        self.retired = False


class SnapshotSource:
    """The current snapshot for a long-running reader (the service), switching when a new one
    is published. Each look-up leases the version current when it starts and finishes on it;
    a version no look-up holds any more is closed once a newer one has replaced it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._opened: _Opened | None = None
        self._seen: tuple[int, int, int] | None = None

    @contextmanager
    def lease(self) -> Iterator[tuple[Pointer, duckdb.DuckDBPyConnection]]:
        """The current version and a cursor of it, for one look-up."""
        opened = self._current()
        try:
            cursor = opened.conn.cursor()
            try:
                yield opened.pointer, cursor
            finally:
                cursor.close()
        finally:
            with self._lock:
                opened.users -= 1
                if opened.retired and opened.users == 0:
                    opened.conn.close()

    def current_pointer(self) -> Pointer | None:
        """The version new look-ups get (None before the first publish)."""
        try:
            with self.lease() as (pointer, _):
                return pointer
        except SnapshotMissing:
            return None

    def close(self) -> None:
        with self._lock:
            if self._opened is not None:
                self._opened.retired = True
                if self._opened.users == 0:
                    self._opened.conn.close()
                self._opened = None

    def _current(self) -> _Opened:
        """The open current version, leased (users + 1); a changed pointer opens the new one."""
        try:
            status = os.stat(self.root / POINTER)
            seen = (status.st_ino, status.st_mtime_ns, status.st_size)
        except FileNotFoundError:
            seen = None
        with self._lock:
            if seen is not None and seen != self._seen:
                pointer, conn = _open(self.root)
                previous = self._opened
                self._opened, self._seen = _Opened(pointer, conn), seen
                if previous is not None:
                    previous.retired = True
                    if previous.users == 0:
                        previous.conn.close()
            if self._opened is None:
                raise SnapshotMissing(
                    f"no serving snapshot in {self.root}: run `identity-assets run --all` first"
                )
            self._opened.users += 1
            return self._opened
