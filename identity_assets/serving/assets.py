"""The serving snapshot in Dagster: published after the journal, checked against the warehouse."""

import time
from pathlib import Path

import dagster as dg

from identity_assets import settings, sql
from identity_assets.metadata import preview, stage_asset
from identity_assets.resources import FullRefresh, IdentityRulesResource, Warehouse
from identity_assets.serving.snapshot import compared, open_current, publish, read_pointer

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
            "published_at": pointer.published_at,
            "removed": ", ".join(published.removed) or "none",
            **{f"{table}_rows": rows for table, rows in pointer.counts.items()},
        },
    )


def _snapshot_check(warehouse: Warehouse, query_name: str, what: str) -> dg.AssetCheckResult:
    """Pass when the query over the warehouse and the current snapshot returns no rows."""
    root = serving_root(warehouse)
    pointer = read_pointer(root)
    if pointer is None:
        return dg.AssetCheckResult(passed=False, description=f"no snapshot published in {root}")
    query = sql.load(query_name)
    with (
        warehouse.get_connection() as conn,
        open_current(root) as (pointer, snap),
        compared(conn, snap),
    ):
        failing = conn.execute(f"select count(*) from ({query})").fetchall()[0][0]
        shown = preview(conn, f"{query} limit 20") if failing else None
    metadata: dict[str, object] = {"version": pointer.version, "failing_rows": failing}
    if shown is not None:
        metadata["first_failing_rows"] = shown
    return dg.AssetCheckResult(
        passed=failing == 0,
        metadata=metadata,
        description=f"{failing:,} {what}" if failing else None,
    )


@dg.asset_check(asset="serving_snapshot", blocking=True)
def snapshot_counts_match(warehouse: Warehouse) -> dg.AssetCheckResult:
    """The published snapshot holds as many journal, profile and map rows as the warehouse."""
    return _snapshot_check(
        warehouse,
        "serving/check_snapshot_counts",
        "table(s) with another row count in the snapshot than in the warehouse",
    )


@dg.asset_check(asset="serving_snapshot", blocking=True)
def every_identity_served(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Every identity of the warehouse has a profile and an identifier in the snapshot."""
    return _snapshot_check(
        warehouse,
        "serving/check_every_identity_served",
        "identity(ies) the snapshot cannot answer for",
    )
