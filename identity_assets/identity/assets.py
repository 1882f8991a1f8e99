"""The identity stage in Dagster: raw_events into identifiers, identity_map, identities, merges."""

import dagster as dg

from identity_assets import changes
from identity_assets.identity.graph import rebuild_identities, resolve_identities
from identity_assets.metadata import (
    counts_table,
    data_version,
    preview,
    row_count_change,
    stage_asset,
    table_schema,
    table_schemas,
)
from identity_assets.resources import FullRefresh, IdentityRulesResource, Warehouse

_COMMON = stage_asset("identity")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "identifiers",
            deps=["raw_events", "raw_files"],
            description=(
                "Every normalised identifier (email by UID2 rules, phone in E.164, ids trimmed) "
                "with first/last seen, event count and whether it links or is blocked and why."
            ),
            metadata=table_schema("identifiers"),
            **_COMMON,
        ),
        dg.AssetSpec(
            "identity_map",
            deps=["raw_events", "raw_files"],
            description="One row per linked identifier: the identity it belongs to.",
            metadata=table_schema("identity_map"),
            **_COMMON,
        ),
        dg.AssetSpec(
            "event_placements",
            deps=["raw_events", "raw_files"],
            description=(
                "Each event with the identity of its highest-priority linked identifier: the "
                "one place events are placed. The journal, metrics and segments read it."
            ),
            metadata=table_schema("event_placements"),
            **_COMMON,
        ),
        dg.AssetSpec(
            "identities",
            deps=["raw_events", "raw_files"],
            description="One row per resolved person, with when they were first and last seen.",
            metadata=table_schema("identities"),
            **_COMMON,
        ),
        dg.AssetSpec(
            "identity_merges",
            deps=["raw_events", "raw_files"],
            description="Every merge and split of identities, with the day and the reason.",
            metadata=table_schema("identity_merges"),
            **_COMMON,
        ),
        dg.AssetSpec(
            "identity_refused_links",
            deps=["raw_events", "raw_files"],
            description=(
                "Links a per-type limit refused: the event joined its highest-priority "
                "identifier's identity and the refused identifier stayed apart, with the rule."
            ),
            metadata=table_schema("identity_refused_links"),
            **_COMMON,
        ),
    ],
)
def resolve_identity_graph(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    identity_rules: IdentityRulesResource,
    full_refresh: FullRefresh,
):
    """Resolve the days whose raw events changed, touching only the identities they reach."""
    with warehouse.get_connection() as conn:
        if full_refresh.includes("identity"):
            context.log.info("identity: full refresh, resolving every landed day anew")
            result = rebuild_identities(conn, identity_rules.rules(), context.log.info)
        else:
            result = resolve_identities(conn, identity_rules.rules(), context.log.info)
        version = data_version(changes.latest_version(conn, "event_placements"))
        context.log.info(
            f"identity graph: {result.changed_days} changed day(s), "
            f"{result.touched_identifiers:,} identifiers touched, "
            f"{result.affected_identifiers:,} re-resolved into {result.components:,} identities, "
            f"merges {result.merges or 'none'}, {result.new_phones:,} new phones parsed, "
            f"{result.limited_clusters:,} cluster(s) over a limit, "
            f"{result.refused_links:,} refused link(s), in {result.seconds:.1f}s"
        )
        for change in result.rule_changes:
            context.log.info(f"rule change applied to history: {change}")
        counts = dict(
            conn.execute(
                "select 'identifiers', count(*) from identifiers union all "
                "select 'identity_map', count(*) from identity_map union all "
                "select 'identities', count(*) from identities union all "
                "select 'identity_merges', count(*) from identity_merges union all "
                "select 'identity_refused_links', count(*) from identity_refused_links union all "
                "select 'event_placements', count(*) from event_placements"
            ).fetchall()
        )
        by_type = dict(
            conn.execute(
                "select identifier_type || ' (' || status || ')', count(*) from identifiers "
                "group by all"
            ).fetchall()
        )
        blocked = dict(
            conn.execute(
                "select block_reason, count(*) from identifiers where status = 'blocked' "
                "group by all"
            ).fetchall()
        )
        largest = preview(
            conn,
            "select identity_id, identifier_count, event_count, anchor_type, first_seen "
            "from identities order by identifier_count desc, identity_id limit 5",
        )
        refused_by_rule = dict(
            conn.execute(
                "select rule, count(*) from identity_refused_links group by all"
            ).fetchall()
        )
        type_rules = preview(conn, "select * from identifier_rules order by priority")
        schemas = table_schemas(conn)
        recent_merges = preview(
            conn,
            "select * from identity_merges order by day desc, identity_id limit 5",
        )
    run = {
        "changed_days": result.changed_days,
        "identifiers_touched": result.touched_identifiers,
        "identifiers_re_resolved": result.affected_identifiers,
        "seconds": round(result.seconds, 2),
    }
    yield dg.MaterializeResult(
        data_version=version,
        asset_key="identifiers",
        metadata={
            "dagster/column_schema": schemas["identifiers"],
            **row_count_change(context, "identifiers", counts["identifiers"]),
            "identifiers_by_type": counts_table("type (status)", by_type),
            "blocked_by_reason": counts_table("reason", blocked),
            "new_phones_parsed": result.new_phones,
            **run,
        },
    )
    yield dg.MaterializeResult(
        data_version=version,
        asset_key="identity_map",
        metadata={
            "dagster/column_schema": schemas["identity_map"],
            **row_count_change(context, "identity_map", counts["identity_map"]),
            **run,
        },
    )
    yield dg.MaterializeResult(
        data_version=version,
        asset_key="event_placements",
        metadata={
            "dagster/column_schema": schemas["event_placements"],
            **row_count_change(context, "event_placements", counts["event_placements"]),
            **run,
        },
    )
    yield dg.MaterializeResult(
        data_version=version,
        asset_key="identities",
        metadata={
            "dagster/column_schema": schemas["identities"],
            **row_count_change(context, "identities", counts["identities"]),
            "identities_in_run": result.components,
            "largest_identities": largest,
        },
    )
    yield dg.MaterializeResult(
        data_version=version,
        asset_key="identity_refused_links",
        metadata={
            "dagster/column_schema": schemas["identity_refused_links"],
            **row_count_change(context, "identity_refused_links", counts["identity_refused_links"]),
            "refused_by_rule": counts_table("rule", refused_by_rule),
            "limits_and_priority": type_rules,
            "clusters_over_a_limit_this_run": result.limited_clusters,
            "rule_changes_this_run": dg.MetadataValue.md(
                "\n".join(f"- {c}" for c in result.rule_changes) or "none"
            ),
        },
    )
    yield dg.MaterializeResult(
        data_version=version,
        asset_key="identity_merges",
        metadata={
            "dagster/column_schema": schemas["identity_merges"],
            **row_count_change(context, "identity_merges", counts["identity_merges"]),
            "merges_this_run": counts_table("kind", result.merges),
            "latest": recent_merges,
        },
    )
