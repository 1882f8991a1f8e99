"""The serving snapshot in Dagster: published after the journal, checked against the warehouse."""

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import duckdb

from identity_assets import settings
from identity_assets.checks import Scope, changed_rows_check, named
from identity_assets.metadata import stage_asset
from identity_assets.resources import FullRefresh, IdentityRulesResource, Warehouse
from identity_assets.serving.snapshot import (
    PRODUCER,
    compared,
    open_current,
    publish,
    read_pointer,
)

# Every table the snapshot copies from; `identities`, which its completeness check reads; and
# `event_placements`, whose changed days name identities whose identifiers changed.
_UPSTREAM = [
    "identity_journal",
    "customer_profiles",
    "identity_map",
    "identities",
    "identifiers",
    "event_placements",
]


def serving_root(warehouse: Warehouse) -> Path:
    """The serving directory of this warehouse (`IDENTITY_SERVING_DIR`, or beside it)."""
    return Path(settings.serving_dir(warehouse.database))


@dg.asset(
    deps=_UPSTREAM,
    **stage_asset("serving"),
    description=(
        "What look-ups read (journal, profiles, identity map) as a SQLite file of its own, laid "
        "out for point reads and brought up to date by what changed: `identity-assets serve` "
        "and the journal and profile commands answer from it while a run holds the warehouse."
    ),
)
def serving_snapshot(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    identity_rules: IdentityRulesResource,
    full_refresh: FullRefresh,
) -> dg.MaterializeResult:
    """Publish a new version when the journal or the identity map changed: the changed
    identities applied to the current file, or a new file on a full refresh."""
    root = serving_root(warehouse)
    rebuild = full_refresh.includes("serving")
    started = time.perf_counter()
    with warehouse.get_connection() as conn:
        published = publish(conn, root, identity_rules.phone_region, rebuild=rebuild)
    seconds = round(time.perf_counter() - started, 2)
    pointer = published.pointer
    if published.written:
        how = (
            f"{published.identities:,} changed identities, "
            f"{published.journal_rows:,} journal rows copied"
            if published.mode == "changes"
            else "a new file"
        )
        context.log.info(
            f"serving: published version {pointer.version} in {root / pointer.file} "
            f"({how}) in {seconds}s"
        )
    else:
        context.log.info(f"serving: version {pointer.version} is already published")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(str(pointer.version)),
        metadata={
            "version": pointer.version,
            "path": dg.MetadataValue.path(str(root / pointer.file)),
            "published": published.written,
            "seconds": seconds,
            "mode": published.mode,
            "changed_identities": published.identities,
            "journal_rows_copied": published.journal_rows,
            "rows_removed": published.removed_rows,
            "rows_written": published.written_rows,
            # what the weekly compaction will fold: it grows by a day's rows until then
            "recent_journal_rows": published.recent_journal_rows,
            "recent_identifier_rows": published.recent_identifier_rows,
            "published_at": pointer.published_at,
            "removed": ", ".join(published.removed) or "none",
            **{f"{table}_rows": rows for table, rows in pointer.counts.items()},
        },
    )


class _Check(NamedTuple):
    description: str
    query: str  # over everything: a sweep or a new file
    what: str  # what a failing row is
    changed_query: str | None  # over the changed days and identities, when not `query`
    reads_counts: bool  # the snapshot's counts; otherwise the identities it answers for


# The snapshot's two blocking checks, run in one step: the snapshot is opened once and each
# check reads from it only what its query needs (decision 0028). Each keeps its own progress
# and result.
_CHECKS = {
    "snapshot_counts_match": _Check(
        "The published snapshot holds as many journal, profile and map rows as the warehouse: "
        "per changed day and identity, and in whole tables in a sweep.",
        "serving/check_snapshot_counts",
        "row count(s) differing between the snapshot and the warehouse",
        "serving/check_snapshot_changed_counts",
        reads_counts=True,
    ),
    "every_identity_served": _Check(
        "Every identity of the warehouse has a profile and an identifier in the snapshot.",
        "serving/check_every_identity_served",
        "identity(ies) the snapshot cannot answer for",
        None,
        reads_counts=False,
    ),
}


@contextmanager
def _reading(
    check: _Check, snap: sqlite3.Connection, conn: duckdb.DuckDBPyConnection, scope: Scope
) -> Iterator[str]:
    """What `check` reads from the snapshot, registered on `conn`; yields its query."""
    with compared(
        conn,
        snap,
        scoped=not scope.everything,
        counts=check.reads_counts,
        identities=not check.reads_counts,
    ):
        yield check.query if scope.everything else check.changed_query or check.query


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name, asset="serving_snapshot", blocking=True, description=check.description
        )
        for name, check in _CHECKS.items()
    ],
    can_subset=True,
)
def snapshot_checks(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> Iterator[dg.AssetCheckResult]:
    """Pass when each check's query over the warehouse and the current snapshot returns no
    rows: over the days and identities the snapshot's versions applied since the check last
    passed (its query for them when it has one), everything in a sweep or after a new file
    (decision 0016)."""
    root = serving_root(warehouse)
    selected = [
        name
        for name in _CHECKS
        if dg.AssetCheckKey(dg.AssetKey("serving_snapshot"), name)
        in context.selected_asset_check_keys
    ]
    if read_pointer(root) is None:
        for name in selected:
            yield dg.AssetCheckResult(
                check_name=name, passed=False, description=f"no snapshot published in {root}"
            )
        return
    with open_current(root) as (pointer, snap):
        for name in selected:
            check = _CHECKS[name]
            result = changed_rows_check(
                context,
                warehouse,
                PRODUCER,
                check.query,
                check.what,
                prepare=partial(_reading, check, snap),
                subject=pointer.file,
                check=name,
            )
            yield named(result, name, version=pointer.version)
