"""The journal stage in Dagster: identity tables into identity_journal and customer_profiles."""

import dagster as dg

from identity_assets import changes, sql
from identity_assets.journal.build import forget_journals, update_journals
from identity_assets.metadata import (
    data_version,
    preview,
    row_count_change,
    stage_asset,
    table_schema,
    table_schemas,
)
from identity_assets.resources import FullRefresh, Warehouse

_COMMON = stage_asset("journal")
_UPSTREAM = ["raw_events", "event_placements", "identities", "identity_map", "identifiers"]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "identity_journal",
            deps=_UPSTREAM,
            description=(
                "Every accepted event of every identity, each with the exact payload received; "
                "the identifier API's journal, read most recent first."
            ),
            metadata=table_schema("identity_journal"),
            **_COMMON,
        ),
        dg.AssetSpec(
            "customer_profiles",
            deps=_UPSTREAM,
            description=(
                "One golden record per identity: the latest non-empty value of each trait from "
                "any source (camelCase and snake_case are one trait), every known identifier by "
                "type, first and last seen, sources."
            ),
            metadata=table_schema("customer_profiles"),
            **_COMMON,
        ),
    ],
)
def build_journals(
    context: dg.AssetExecutionContext, warehouse: Warehouse, full_refresh: FullRefresh
):
    """Follow the identity stage: replace re-resolved days, move rows of changed identities."""
    with warehouse.get_connection() as conn:
        if full_refresh.includes("journal"):
            context.log.info("journal: full refresh, placing every event anew")
            forget_journals(conn)
        result = update_journals(conn, log=context.log.info)
        version = data_version(changes.latest_version(conn, "identity_journal"))
        context.log.info(
            f"journal: {result.changed_days} changed day(s), "
            f"{result.changed_identities:,} changed identities, "
            f"+{result.rows_inserted:,} / -{result.rows_removed:,} rows, "
            f"{result.rows_moved:,} moved, {result.profiles_refreshed:,} profiles refreshed "
            f"({result.profiles_rebuilt:,} rebuilt from their journals, "
            f"{result.profiles_folded:,} merges folded), "
            f"in {result.seconds:.1f}s"
        )
        journal_rows, profiles = conn.execute(
            "select (select count(*) from identity_journal), "
            "(select count(*) from customer_profiles)"
        ).fetchall()[0]
        busiest = conn.execute(
            "select identity_id, event_count from customer_profiles "
            "order by event_count desc, identity_id limit 1"
        ).fetchall()
        sample = (
            preview(
                conn,
                "select occurred_at, source, kind, event_name, left(payload, 60) as payload "
                "from identity_journal where identity_id = $id "
                "order by occurred_at desc, event_id desc limit 10",
                {"id": busiest[0][0]},
            )
            if busiest
            else None
        )
        coverage = preview(conn, sql.load("journal/trait_coverage"))
        schemas = table_schemas(conn)
        by_source = preview(conn, sql.load("journal/events_by_source"))
    run = {
        "changed_days": result.changed_days,
        "changed_identities": result.changed_identities,
        "seconds": round(result.seconds, 2),
    }
    journal_metadata = {
        "dagster/column_schema": schemas["identity_journal"],
        **row_count_change(context, "identity_journal", journal_rows),
        "rows_inserted": result.rows_inserted,
        "rows_removed": result.rows_removed,
        "rows_moved": result.rows_moved,
        "events_by_source": by_source,
        **run,
    }
    if busiest:
        journal_metadata["busiest_identity"] = f"{busiest[0][0]} ({busiest[0][1]:,} events)"
        journal_metadata["busiest_identity_journal"] = sample
    yield dg.MaterializeResult(
        asset_key="identity_journal", metadata=journal_metadata, data_version=version
    )
    yield dg.MaterializeResult(
        data_version=version,
        asset_key="customer_profiles",
        metadata={
            "dagster/column_schema": schemas["customer_profiles"],
            **row_count_change(context, "customer_profiles", profiles),
            "profiles_refreshed": result.profiles_refreshed,
            "profiles_rebuilt": result.profiles_rebuilt,
            "profiles_folded": result.profiles_folded,
            "trait_coverage": coverage,
            **run,
        },
    )
