"""The change protocol: how a stage learns what changed upstream since it last looked.

A stage that writes takes the next version of one warehouse-wide sequence and logs, under it
and in the same transaction as its data, the days and the identities it changed. A consumer
keeps in `stage_progress` the newest version of each upstream it has taken in: what it must
redo is the log between that version and the newest. Logs below every consumer's version are
pruned. Each stage stays an idempotent "bring me up to date": one that failed, or did not run,
catches up on its next run. Decision record 0006 describes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from identity_assets import sql

# The stages in data-flow order: a full refresh rebuilds one and every stage after it. The
# serving snapshot, last, is rebuilt by every full refresh, and alone by `--from serving`.
STAGES = ("ingest", "identity", "journal", "metrics", "segments", "serving")

# Who reads each published change log. A log is pruned below the oldest of its consumers.
CONSUMERS = {
    "raw_events": ("identity",),
    "event_placements": ("journal", "serving"),
    "identity_journal": ("metrics", "serving"),
}

# The blocking asset checks that verify only what a producer changed (decision 0016). A log is
# also kept until each of these that has verified it once has read it.
CHECKS = {
    "raw_events": ("lines_balance", "one_row_per_event"),
    "event_placements": (
        "one_identity_per_identifier",
        "no_blocked_identifier_linked",
        "every_identity_summarised",
        "largest_identity_within_limit",
        "identities_within_limits",
        "refused_links_kept_apart",
        "journal_covers_linked_events",
    ),
    "identity_journal": (
        "journal_identities_exist",
        "one_profile_per_identity",
    ),
    "customer_metrics": ("predictions_valid", "one_metrics_row_per_identity"),
    "serving_snapshot": ("snapshot_counts_match", "every_identity_served"),
}


@dataclass(frozen=True)
class Pending:
    """An upstream's changes a consumer has not taken in: versions in (since, through]."""

    consumer: str
    upstream: str
    since: int
    through: int
    first: bool = False  # the consumer never took anything in: it must read all there is

    @property
    def any(self) -> bool:
        return self.first or self.through > self.since


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the protocol's tables if this warehouse does not have them yet."""
    sql.create_tables(conn, "changes")


def pending(conn: duckdb.DuckDBPyConnection, consumer: str, upstream: str) -> Pending:
    """What `consumer` has not yet taken in of `upstream`'s changes."""
    ensure_tables(conn)
    since, through = conn.execute(
        "select "
        "(select max(version) from stage_progress "
        " where consumer = $consumer and upstream = $upstream), "
        "(select coalesce(max(version), 0) from change_versions where producer = $upstream)",
        {"consumer": consumer, "upstream": upstream},
    ).fetchall()[0]
    return Pending(consumer, upstream, since or 0, through, first=since is None)


def stage_days(conn: duckdb.DuckDBPyConnection, changes: Pending, table: str) -> int:
    """The days `changes` covers, into a new temp table `table(day)`; returns how many."""
    return _stage(conn, changes, table, "day", "change_days")


def stage_identities(conn: duckdb.DuckDBPyConnection, changes: Pending, table: str) -> int:
    """The identities `changes` covers, into a new temp table `table(identity_id)`."""
    return _stage(conn, changes, table, "identity_id", "change_identities")


def stage_rows(conn: duckdb.DuckDBPyConnection, changes: Pending, table: str) -> int:
    """The rows `changes` moved or removed outside its days, into a new temp table
    `table(event_id, day, previous_identity_id, identity_id)`: each row's identity before the
    first of these versions and after the last (null: it left the table), those two differing."""
    conn.execute(
        f"create or replace temp table {table} as "
        "select * from (select distinct event_id, day, "
        "first_value(previous_identity_id) over moves as previous_identity_id, "
        "last_value(identity_id) over moves as identity_id "
        f"from change_rows where {_IN_RANGE} "
        "window moves as (partition by event_id, day order by version "
        "rows between unbounded preceding and unbounded following)) "
        "where identity_id is distinct from previous_identity_id",
        _range(changes),
    )
    return conn.execute(f"select count(*) from {table}").fetchall()[0][0]


def rows_logged(conn: duckdb.DuckDBPyConnection, changes: Pending) -> bool:
    """Whether every version of `changes` logged the rows it moved: not so for those written
    before the warehouse had `change_rows`."""
    ensure_tables(conn)
    if changes.first:
        return False
    (unlogged,) = conn.execute(
        "select count(*) from change_versions where producer = $upstream "
        "and version > $since and version <= $through and version <= "
        "(select coalesce(max(rules::bigint), 0) from stage_rules where stage = 'change_rows')",
        _range(changes),
    ).fetchall()[0]
    return unlogged == 0


def consume(conn: duckdb.DuckDBPyConnection, changes: Pending) -> None:
    """Mark `changes` taken in (inside the consumer's transaction), then prune what every
    consumer of the upstream has taken in."""
    params = {"consumer": changes.consumer, "upstream": changes.upstream}
    conn.execute(
        "delete from stage_progress where consumer = $consumer and upstream = $upstream", params
    )
    conn.execute(
        "insert into stage_progress values ($consumer, $upstream, $version)",
        params | {"version": changes.through},
    )
    prune(conn, changes.upstream)


def prune(conn: duckdb.DuckDBPyConnection, upstream: str) -> None:
    """Delete `upstream`'s log rows every reader is done with: at or below the oldest version
    its consumers have taken in (none until each has) and its checks have verified."""
    (oldest,) = conn.execute(
        "select coalesce(least("
        " (select case when count(*) = $consumers then min(version) else 0 end "
        "  from stage_progress where upstream = $upstream having $consumers > 0), "
        " (select min(version) from check_progress "
        "  where producer = $upstream and list_contains($checks, check_name))), 0)",
        {
            "upstream": upstream,
            "consumers": len(CONSUMERS.get(upstream, ())),
            "checks": list(CHECKS.get(upstream, ())),
        },
    ).fetchall()[0]
    for log in ("change_days", "change_identities", "change_rows"):
        conn.execute(
            f"delete from {log} where version <= $oldest and version in "
            "(select version from change_versions where producer = $upstream)",
            {"oldest": oldest, "upstream": upstream},
        )


def new_version(conn: duckdb.DuckDBPyConnection, producer: str) -> int:
    """The next version, recorded for `producer` (inside the producer's transaction)."""
    ensure_tables(conn)
    (version,) = conn.execute(
        "insert into change_versions "
        "select coalesce(max(version), 0) + 1, $producer from change_versions returning version",
        {"producer": producer},
    ).fetchall()[0]
    return version


def log_days(conn: duckdb.DuckDBPyConnection, version: int, query: str) -> None:
    """Log the distinct days `query` selects (one column) as changed by `version`."""
    conn.execute(
        f"insert into change_days select distinct $version, d.* from ({query}) as d",
        {"version": version},
    )


def log_rows(conn: duckdb.DuckDBPyConnection, version: int, query: str) -> None:
    """Log the rows `query` selects (day, event_id, previous_identity_id, identity_id: the
    identity each row left and where it is now, null when it left the table) as moved by
    `version` outside its days."""
    conn.execute(
        f"insert into change_rows select $version, r.* from ({query}) as r", {"version": version}
    )


def log_identities(conn: duckdb.DuckDBPyConnection, version: int, query: str) -> None:
    """Log the distinct identities `query` selects (one column) as changed by `version`."""
    conn.execute(
        f"insert into change_identities select distinct $version, i.* from ({query}) as i "
        "where i.identity_id is not null",
        {"version": version},
    )


def latest_version(conn: duckdb.DuckDBPyConnection, producer: str) -> int:
    """The newest version `producer` wrote (0 for none): the data version of what it publishes."""
    ensure_tables(conn)
    return conn.execute(
        "select coalesce(max(version), 0) from change_versions where producer = ?", [producer]
    ).fetchall()[0][0]


def applied_rules(conn: duckdb.DuckDBPyConnection, stage: str) -> str | None:
    """The rules `stage`'s data was last built under, or None before it stored any."""
    ensure_tables(conn)
    rows = conn.execute("select rules from stage_rules where stage = ?", [stage]).fetchall()
    return rows[0][0] if rows else None


def store_rules(conn: duckdb.DuckDBPyConnection, stage: str, rules: str) -> None:
    """Record the rules `stage`'s data is now built under (inside its transaction)."""
    conn.execute("delete from stage_rules where stage = ?", [stage])
    conn.execute("insert into stage_rules values (?, ?)", [stage, rules])


def forget(conn: duckdb.DuckDBPyConnection, stage: str) -> None:
    """Forget what `stage` has taken in and the rules it built under: its next run reads
    everything there is, as a first run does (a full refresh)."""
    ensure_tables(conn)
    conn.execute("delete from stage_progress where consumer = ?", [stage])
    conn.execute("delete from stage_rules where stage = ?", [stage])


@dataclass(frozen=True)
class CheckProgress:
    """How far a check has verified its producer's changes, and under which parameters."""

    version: int
    fingerprint: str


def check_progress(conn: duckdb.DuckDBPyConnection, check: str) -> CheckProgress | None:
    """The newest version `check` verified, or None if it never passed."""
    ensure_tables(conn)
    rows = conn.execute(
        "select version, fingerprint from check_progress where check_name = ?", [check]
    ).fetchall()
    return CheckProgress(*rows[0]) if rows else None


def unlogged_versions(conn: duckdb.DuckDBPyConnection, changes: Pending) -> int:
    """How many of `changes`' versions logged no day, identity or row: a producer that rewrote
    its whole table (metrics refitting every prediction) takes such a version."""
    return conn.execute(
        "select count(*) from change_versions as v "
        "where v.producer = $upstream and v.version > $since and v.version <= $through "
        "and not exists (select 1 from change_days as d where d.version = v.version) "
        "and not exists (select 1 from change_identities as i where i.version = v.version) "
        "and not exists (select 1 from change_rows as r where r.version = v.version)",
        _range(changes),
    ).fetchall()[0][0]


def record_check(
    conn: duckdb.DuckDBPyConnection, check: str, producer: str, version: int, fingerprint: str
) -> None:
    """Record that `check` verified `producer`'s changes up to `version`, then prune what no
    reader needs any more."""
    if check not in CHECKS.get(producer, ()):
        raise ValueError(f"{check} is not a check of {producer} in changes.CHECKS")
    with sql.transaction(conn):
        conn.execute("delete from check_progress where check_name = ?", [check])
        conn.execute(
            "insert into check_progress values (?, ?, ?, ?)",
            [check, producer, version, fingerprint],
        )
        prune(conn, producer)


def _stage(
    conn: duckdb.DuckDBPyConnection, changes: Pending, table: str, column: str, log: str
) -> int:
    conn.execute(
        f"create or replace temp table {table} as select distinct {column} from {log} "
        f"where {_IN_RANGE}",
        _range(changes),
    )
    return conn.execute(f"select count(*) from {table}").fetchall()[0][0]


# A log row of one of the pending versions of an upstream (parameters: _range).
_IN_RANGE = (
    "version > $since and version <= $through and version in "
    "(select version from change_versions where producer = $upstream)"
)


def _range(changes: Pending) -> dict[str, object]:
    return {"since": changes.since, "through": changes.through, "upstream": changes.upstream}
