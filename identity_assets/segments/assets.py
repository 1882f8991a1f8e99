"""The segments stage in Dagster: membership, then the outbox of changes and their delivery.

They are two steps so that the blocking membership check runs between them: a membership
that fails it is never queued or sent.
"""

import dagster as dg
import duckdb

from identity_assets import sql
from identity_assets.metadata import (
    counts_table,
    data_version,
    markdown_table,
    row_count_change,
    stage_asset,
    table_schema,
    table_schemas,
)
from identity_assets.resources import IdentifierApi, SegmentRulesResource, Warehouse
from identity_assets.segments.client import ApiRefused, ApiUnreachable
from identity_assets.segments.membership import update_membership
from identity_assets.segments.outbox import deliver_updates, queue_updates

# The client already retries each request; the step is retried when the warehouse is busy
# (another writer holds the file), later each time, at a random point of the wait. Nothing else
# is: a refused token or an unreachable API would fail again, and a step RetryPolicy would
# also retry a step stopped by SIGINT/SIGTERM (Dagster retries interrupts), so a stopped run
# would carry on. These are the waits, raised as RetryRequested.
DELIVERY_RETRIES = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.FULL
)


@dg.asset(
    deps=["customer_metrics", "customer_value", "customer_profiles", "identities"],
    description="Who is in each configured segment, and since when.",
    metadata=table_schema("segment_membership"),
    **stage_asset("segments"),
)
def segment_membership(
    context: dg.AssetExecutionContext, warehouse: Warehouse, segment_rules: SegmentRulesResource
) -> dg.MaterializeResult:
    """Recompute membership from the metrics and value."""
    with warehouse.get_connection() as conn:
        sizes = update_membership(conn, segment_rules.segments())
        schema = table_schemas(conn)["segment_membership"]
        version = data_version(*conn.execute(sql.load("segments/membership_digest")).fetchall()[0])
    context.log.info(f"segments: members {sizes}")
    return dg.MaterializeResult(
        metadata={
            **row_count_change(context, "segment_membership", sum(sizes.values())),
            "segment_sizes": counts_table("segment", sizes),
            "dagster/column_schema": schema,
        },
        data_version=version,
    )


@dg.asset(
    deps=["segment_membership", "identity_map", "identifiers"],
    description=(
        "The outbox: one row per segment entered or exited, with the identifier API "
        "request, delivered with rate limits and retries; each row ends sent or failed."
    ),
    metadata=table_schema("segment_updates"),
    **stage_asset("segments", "api"),
)
def segment_updates(
    context: dg.AssetExecutionContext, warehouse: Warehouse, identifier_api: IdentifierApi
) -> dg.MaterializeResult:
    """Queue the changes since the last queued state, then deliver every pending update."""
    try:
        return _queue_and_deliver(context, warehouse, identifier_api)
    except duckdb.IOException as busy:
        raise dg.RetryRequested(
            max_retries=DELIVERY_RETRIES.max_retries,
            seconds_to_wait=DELIVERY_RETRIES.calculate_delay(context.retry_number + 1),
        ) from busy


def _queue_and_deliver(
    context: dg.AssetExecutionContext, warehouse: Warehouse, identifier_api: IdentifierApi
) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        queued = queue_updates(conn, identifier_api.platform, identifier_api.send_hashes)
        context.log.info(f"segments: queued {queued or 'none'}")
        delivery = None
        if identifier_api.token:
            client = identifier_api.client()
            try:
                delivery = deliver_updates(
                    conn, client, identifier_api.concurrency, log=context.log.info
                )
            except (ApiRefused, ApiUnreachable) as halted:
                # Another try would be refused the same way; an API that did not answer a run
                # of requests is not retried within minutes either: the updates wait, pending,
                # for the next run, and the run ends now, failed.
                raise dg.Failure(str(halted), allow_retries=False) from None
            finally:
                client.close()
        else:
            context.log.warning(
                "IDENTITY_API_TOKEN is not set: segment updates wait in segment_updates"
            )
        statuses = dict(
            conn.execute("select status, count(*) from segment_updates group by 1").fetchall()
        )
        schema = table_schemas(conn)["segment_updates"]
        version = data_version(*conn.execute(sql.load("segments/updates_digest")).fetchall()[0])
    metadata: dict[str, object] = {
        "dagster/column_schema": schema,
        **row_count_change(context, "segment_updates", sum(statuses.values())),
        "changes_queued": counts_table("segment and change", queued),
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
    return dg.MaterializeResult(metadata=metadata, data_version=version)
