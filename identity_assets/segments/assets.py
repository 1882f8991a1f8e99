"""The segments stage in Dagster: membership, the outbox of changes, and their delivery."""

import dagster as dg

from identity_assets.metadata import (
    column_schema,
    counts_table,
    markdown_table,
    row_count_change,
)
from identity_assets.resources import IdentifierApi, SegmentRulesResource, Warehouse
from identity_assets.segments.client import ApiRefused
from identity_assets.segments.outbox import deliver_updates, queue_updates

_COMMON = {"group_name": "segments", "kinds": {"duckdb"}, "owners": ["team:data-engineering"]}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "segment_membership",
            deps=["customer_metrics", "customer_value", "customer_profiles"],
            description="Who is in each configured segment, and since when.",
            metadata=column_schema(
                ("identity_id", "varchar", ""),
                ("segment", "varchar", "high_value_predicted, lapsing_buyers, new_customers, ..."),
                ("since", "timestamp", "when the membership began"),
            ),
            **_COMMON,
        ),
        dg.AssetSpec(
            "segment_updates",
            deps=["segment_membership"],
            description=(
                "The outbox: one row per segment entered or exited, with the identifier API "
                "request, delivered with rate limits and retries; each row ends sent or failed."
            ),
            metadata=column_schema(
                ("update_id", "varchar", "stable id, also inside the payload"),
                ("identity_id", "varchar", ""),
                ("segment", "varchar", ""),
                ("change", "varchar", "entered or exited"),
                ("payload", "json", "POST /identifier body"),
                ("status", "varchar", "pending, sent or failed"),
                ("attempts", "integer", "requests made, over all runs"),
                ("last_http_status", "integer", ""),
                ("last_error", "varchar", "the API's message"),
                ("sent_at", "timestamp", ""),
            ),
            kinds={"duckdb", "api"},
            group_name="segments",
            owners=["team:data-engineering"],
        ),
    ],
)
def push_segment_updates(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    segment_rules: SegmentRulesResource,
    identifier_api: IdentifierApi,
):
    """Recompute membership, queue the changes, and deliver every pending update."""
    with warehouse.get_connection() as conn:
        queued = queue_updates(conn, segment_rules.segments(), identifier_api.platform)
        context.log.info(f"segments: members {queued.members}, queued {queued.queued or 'none'}")
        delivery = None
        if identifier_api.token:
            client = identifier_api.client()
            try:
                delivery = deliver_updates(
                    conn, client, identifier_api.concurrency, log=context.log.info
                )
            except ApiRefused as refused:
                raise dg.Failure(str(refused)) from None
            finally:
                client.close()
        else:
            context.log.warning(
                "IDENTITY_API_TOKEN is not set: segment updates wait in segment_updates"
            )
        statuses = dict(
            conn.execute("select status, count(*) from segment_updates group by 1").fetchall()
        )
        total = conn.execute("select count(*) from segment_membership").fetchall()[0][0]
    yield dg.MaterializeResult(
        asset_key="segment_membership",
        metadata={
            **row_count_change(context, "segment_membership", total),
            "segment_sizes": counts_table("segment", queued.members),
            "changes_queued": counts_table("segment and change", queued.queued),
        },
    )
    metadata: dict[str, object] = {
        **row_count_change(context, "segment_updates", sum(statuses.values())),
        "by_status": counts_table("status", statuses),
        "api_url": identifier_api.url,
    }
    if delivery is not None:
        context.log.info(
            f"segment updates: {delivery.sent:,} sent, {delivery.failed:,} failed, "
            f"{delivery.retries:,} retries, {delivery.rate_limited:,} 429s, "
            f"{delivery.per_second:.1f}/s"
        )
        metadata |= {
            "sent": delivery.sent,
            "failed": delivery.failed,
            "failed_by_status": counts_table("status", dict(delivery.failed_by_status)),
            "retries": delivery.retries,
            "rate_limited_429s": delivery.rate_limited,
            "found_already_delivered": delivery.reconciled,
            "updates_per_second": round(delivery.per_second, 1),
        }
    else:
        metadata["delivery"] = markdown_table(["skipped"], [("IDENTITY_API_TOKEN is not set",)])
    yield dg.MaterializeResult(asset_key="segment_updates", metadata=metadata)
