"""Ingest: one landing day's raw export files into `raw_events` and `raw_event_rejects`.

The day's files (gzip or not) are read as the lines they hold (`lines.py`) and streamed into
DuckDB, which parses each line's JSON once and sorts lines into accepted events and rejects
with a reason, so nothing is dropped silently (lines read = accepted + rejected, per file). A day is
replaced in one transaction, which makes a re-run, a late file or a re-delivered file safe.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from identity_assets import changes, sql
from identity_assets.ingest.lines import LandedLines
from identity_assets.settings import parse_day

LANDED_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
# Days are read together until their files add up to this much. Larger batches amortise each
# batch's fixed cost (156 s instead of 189 s for 9.7M lines with 768 MiB instead of 256 MiB);
# DuckDB's memory_limit still holds, spilling beyond it (benchmarks/ingest.py).
DEFAULT_BATCH_BYTES = 768 * 1024 * 1024

# Order matters: each step reads the temp tables the steps before it wrote.
_STEPS = (
    "ingest/number_lines",
    "ingest/parse_lines",
    "ingest/explode_events",
    "ingest/judge_lines",
)
_INSERTS = (
    "ingest/insert_raw_events",
    "ingest/insert_raw_event_keys",
    "ingest/insert_raw_event_rejects",
    "ingest/insert_raw_files",
)
_TEMP_TABLES = (
    "batch_days",
    "ingest_window",
    "landed_lines_unnumbered",
    "landed_lines",
    "parsed_lines",
    "landed_events",
    "line_outcomes",
    "landed_files",
)


class LandingError(Exception):
    """The landing directory holds something the pipeline cannot place or read."""


class UnreadableFileError(LandingError):
    """A landed file cannot be read (corrupt gzip, not UTF-8): nothing of its batch is written."""


@dataclass(frozen=True)
class DayIngest:
    """What ingesting one day did: the counts behind logs, metadata and the lines-balance rule."""

    day: date
    files: int
    lines_read: int
    lines_accepted: int
    lines_rejected: int
    events_accepted: int
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    events_by_source: dict[str, int] = field(default_factory=dict)
    ignored_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchIngest:
    """Days ingested together in one read and one transaction (or, `unchanged`, days whose
    files are exactly those already ingested, kept as they are)."""

    days: tuple[DayIngest, ...]
    seconds: float

    @property
    def lines_read(self) -> int:
        return sum(d.lines_read for d in self.days)

    @property
    def events_accepted(self) -> int:
        return sum(d.events_accepted for d in self.days)

    @property
    def lines_rejected(self) -> int:
        return sum(d.lines_rejected for d in self.days)

    @property
    def files(self) -> int:
        return sum(d.files for d in self.days)

    unchanged: bool = False


@dataclass(frozen=True)
class TimeWindow:
    """When an event may have happened: not before `earliest`, and not later than the end of
    its landing day plus `max_skew` (device clocks run ahead). Outside it an event is rejected
    as `implausible_time`."""

    earliest: datetime = datetime(2000, 1, 1)
    max_skew: timedelta = timedelta(hours=24)


def landed_days(landing_dir: Path, first_day: date) -> list[date]:
    """Every day folder in the landing directory, oldest first.

    Folders starting with `_` or `.` are not days (the sample generator keeps its ground truth
    in `_truth`); any other folder must be a `YYYY-MM-DD` day on or after `first_day`, or the
    landing directory is misconfigured and we say so rather than skip data.
    """
    if not landing_dir.is_dir():
        raise LandingError(f"landing directory {landing_dir} does not exist")
    days, problems = [], []
    for entry in sorted(landing_dir.iterdir()):
        if entry.name.startswith(("_", ".")) or not entry.is_dir():
            continue
        day = parse_day(entry.name)
        if day is None:
            problems.append(f"{entry.name} (not a YYYY-MM-DD day)")
        elif day < first_day:
            problems.append(f"{entry.name} (before IDENTITY_FIRST_DAY {first_day.isoformat()})")
        else:
            days.append(day)
    if problems:
        raise LandingError(
            f"landing directory {landing_dir} has folders outside the daily partitions: "
            + ", ".join(problems)
        )
    return days


def day_files(landing_dir: Path, day: date) -> tuple[list[Path], list[Path]]:
    """The export files of one day (sorted) and the other files found there (ignored).

    Paths stay under the landing directory even where a day folder or a file is a symbolic
    link (a mounted share, a folder linked per day): a file is named by where it landed.
    """
    folder = landing_dir.resolve() / day.isoformat()
    if not folder.is_dir():
        return [], []
    files, ignored = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith((".", "_")):
            continue
        (files if path.name.endswith(LANDED_SUFFIXES) else ignored).append(path)
    return files, ignored


def ingest_day(conn: duckdb.DuckDBPyConnection, landing_dir: Path, day: date) -> DayIngest:
    """Replace one day of `raw_events`, `raw_event_rejects` and `raw_files` from its files."""
    (batch,) = ingest_days(conn, landing_dir, [day])
    return batch.days[0]


def ingest_days(
    conn: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    days: Sequence[date],
    max_batch_bytes: int = DEFAULT_BATCH_BYTES,
    skip_unchanged: bool = False,
    window: TimeWindow | None = None,
) -> Iterator[BatchIngest]:
    """Replace the given days from their files, yielding after each batch for progress.

    Days are grouped into batches of at most `max_batch_bytes` of files, so a year of small
    days costs about one read while memory stays bounded by the batch. Each batch is read and
    judged in temp tables first; only then are its days' old rows deleted and the new ones
    inserted, in one transaction. An unreadable file raises `UnreadableFileError` naming it,
    before anything of its batch is written. With `skip_unchanged`, days whose files are exactly
    the ones already ingested (same names, sizes and modification times) are not read again:
    their rows, and everything downstream of them, stay as they are.
    """
    sql.create_tables(conn, "ingest")
    sql.create_macros(conn)
    window = window or TimeWindow()
    conn.execute("set TimeZone = 'UTC'")
    listing = {day: day_files(landing_dir, day) for day in sorted(set(days))}
    if skip_unchanged:
        recorded = _recorded_files(conn)
        unchanged = [
            day
            for day, (files, _) in listing.items()
            if files and recorded.get(day) == _landed_files(landing_dir, files)
        ]
        if unchanged:
            yield BatchIngest(
                days=_summaries(conn, unchanged, listing, landing_dir),
                seconds=0.0,
                unchanged=True,
            )
            listing = {day: value for day, value in listing.items() if day not in unchanged}
    for batch in plan_batches({d: files for d, (files, _) in listing.items()}, max_batch_bytes):
        started = time.perf_counter()
        files = [f for day in batch for f in listing[day][0]]
        try:
            _ingest_batch(conn, landing_dir, batch, files, window)
            summaries = _summaries(conn, batch, listing, landing_dir)
        finally:
            for table in _TEMP_TABLES:
                conn.execute(f"drop table if exists {table}")
        yield BatchIngest(days=summaries, seconds=time.perf_counter() - started)


def plan_batches(files_by_day: dict[date, list[Path]], max_bytes: int) -> list[list[date]]:
    """Group consecutive days so each group's files add up to at most `max_bytes`.

    A day larger than `max_bytes` gets a batch of its own: a day is never split, since its
    rows are replaced as a whole.
    """
    batches: list[list[date]] = []
    size = 0
    for day in sorted(files_by_day):
        day_size = sum(p.stat().st_size for p in files_by_day[day])
        if not batches or size + day_size > max_bytes:
            batches.append([])
            size = 0
        batches[-1].append(day)
        size += day_size
    return batches


def _ingest_batch(
    conn: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    days: list[date],
    files: list[Path],
    window: TimeWindow,
) -> None:
    conn.execute("create or replace temp table batch_days (day date)")
    conn.executemany("insert into batch_days values (?)", [(d,) for d in days])
    conn.execute(
        "create or replace temp table ingest_window as "
        "select $earliest::timestamp as earliest, $max_skew::interval as max_skew",
        {"earliest": window.earliest, "max_skew": window.max_skew},
    )
    _stage_lines(conn, landing_dir, files)
    _stage_file_listing(conn, landing_dir, files)
    for step in _STEPS:
        conn.execute(sql.load(step), _params_for(step, landing_dir))
    with sql.transaction(conn):
        conn.execute(sql.load("ingest/delete_batch_days"))
        for insert in _INSERTS:
            conn.execute(sql.load(insert))
        changes.log_days(
            conn, changes.new_version(conn, "raw_events"), "select day from batch_days"
        )


def _params_for(name: str, landing_dir: Path) -> dict:
    """Only the parameters a statement names: DuckDB rejects unused ones."""
    return {"landing_prefix": _prefix(landing_dir)} if "$landing_prefix" in sql.load(name) else {}


def _prefix(landing_dir: Path) -> str:
    return str(landing_dir.resolve()) + "/"


def _stage_lines(conn: duckdb.DuckDBPyConnection, landing_dir: Path, files: list[Path]) -> None:
    lines = LandedLines([str(p) for p in files])
    conn.register("landed_line_batches", lines.reader())
    try:
        conn.execute(sql.load("ingest/read_lines"))
    except duckdb.Error as error:
        failure = lines.failure or lines.not_utf8()
        if failure is None:
            raise
        name = failure.path.removeprefix(_prefix(landing_dir))
        raise UnreadableFileError(
            f"cannot read landed file {name}: {failure.reason}. Fix or remove the file and "
            "re-run its day; the days of this batch were left as they were."
        ) from failure.__cause__ or error  # the reader's own error, not DuckDB's wrapping of it
    finally:
        lines.close()
        conn.unregister("landed_line_batches")


def _file_rows(landing_dir: Path, files: Iterable[Path]) -> list[tuple[date, str, int, datetime]]:
    """(day, path relative to the landing directory, bytes, modified at UTC) of each file."""
    rows = []
    for path in files:
        stat = path.stat()
        name = _landed_name(landing_dir, path)
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None)
        rows.append((date.fromisoformat(name.split("/", 1)[0]), name, stat.st_size, modified))
    return rows


def changed_since_ingest(
    conn: duckdb.DuckDBPyConnection, landing_dir: Path, first_day: date
) -> dict[date, list[str]]:
    """Already-ingested days whose files changed since: each with the files new, changed or
    gone. A late file is the usual case; such a day must be ingested again."""
    recorded = _recorded_files(conn)
    changed: dict[date, list[str]] = {}
    for day in landed_days(landing_dir, first_day):
        if day not in recorded:
            continue
        files, _ = day_files(landing_dir, day)
        now = _landed_files(landing_dir, files)
        before = {entry[0] for entry in recorded[day]}
        after = {entry[0] for entry in now}
        differing = sorted({entry[0] for entry in now ^ recorded[day]})
        if differing:
            changed[day] = [f"{name} ({_how(name, before, after)})" for name in differing]
    return changed


def _recorded_files(conn: duckdb.DuckDBPyConnection) -> dict[date, set[tuple[str, int, datetime]]]:
    """(name, bytes, modified at) of every ingested file, by day, as raw_files recorded them."""
    recorded: dict[date, set[tuple[str, int, datetime]]] = {}
    for day, name, size, modified in conn.execute(
        "select day, source_file, bytes, modified_at from raw_files"
    ).fetchall():
        recorded.setdefault(day, set()).add((name, size, modified))
    return recorded


def _landed_files(landing_dir: Path, files: Iterable[Path]) -> set[tuple[str, int, datetime]]:
    return {(name, size, modified) for _, name, size, modified in _file_rows(landing_dir, files)}


def _summaries(
    conn: duckdb.DuckDBPyConnection,
    days: list[date],
    listing: dict[date, tuple[list[Path], list[Path]]],
    landing_dir: Path,
) -> tuple[DayIngest, ...]:
    """What `raw_files`, `raw_event_rejects` and `raw_events` hold for `days`: what this run
    just ingested, or what earlier runs recorded for days kept as they are."""
    counts = {
        day: rest
        for day, *rest in conn.execute(
            "select day, sum(lines_read), sum(lines_accepted), sum(lines_rejected), "
            "sum(events_accepted) from raw_files where day in (select unnest($days)) group by day",
            {"days": days},
        ).fetchall()
    }
    reasons = _counts_by_day(conn, "reason", "raw_event_rejects", "count(*) desc, reason", days)
    sources = _counts_by_day(conn, "source", "raw_events", "source", days)
    return tuple(
        DayIngest(
            day,
            len(listing[day][0]),
            *(int(count) for count in counts.get(day, (0, 0, 0, 0))),
            rejects_by_reason=reasons.get(day, {}),
            events_by_source=sources.get(day, {}),
            ignored_files=tuple(_landed_name(landing_dir, p) for p in listing[day][1]),
        )
        for day in days
    )


def _counts_by_day(
    conn: duckdb.DuckDBPyConnection, column: str, table: str, order: str, days: list[date]
) -> dict[date, dict[str, int]]:
    """Rows of `table` counted by day and `column`, in `order` within each day."""
    counts: dict[date, dict[str, int]] = {}
    for day, value, count in conn.execute(
        f"select day, {column}, count(*) from {table} where day in (select unnest($days)) "
        f"group by day, {column} order by day, {order}",
        {"days": days},
    ).fetchall():
        counts.setdefault(day, {})[value] = count
    return counts


def _how(name: str, before: set[str], after: set[str]) -> str:
    if name not in before:
        return "new"
    return "gone" if name not in after else "changed"


def _stage_file_listing(
    conn: duckdb.DuckDBPyConnection, landing_dir: Path, files: Iterable[Path]
) -> None:
    conn.execute(
        "create or replace temp table landed_files "
        "(day date, source_file varchar, bytes bigint, modified_at timestamp)"
    )
    rows = _file_rows(landing_dir, files)
    if rows:
        conn.executemany("insert into landed_files values (?, ?, ?, ?)", rows)


def _landed_name(landing_dir: Path, path: Path) -> str:
    """The file's path relative to the landing directory, links not followed."""
    return path.relative_to(landing_dir.resolve()).as_posix()
