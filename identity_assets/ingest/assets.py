"""The ingest stage in Dagster: landing folders into raw_events, raw_event_rejects, raw_files."""

from collections import Counter
from datetime import date

import dagster as dg

from identity_assets.ingest.core import BatchIngest, DayIngest, ingest_days
from identity_assets.metadata import counts_table, markdown_table, preview
from identity_assets.partitions import daily_partitions
from identity_assets.resources import LandingDirectory, Warehouse

RAW_EVENTS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("event_id", "varchar", description="md5 of the line or Segment messageId"),
        dg.TableColumn("day", "date", description="landing folder day (the partition)"),
        dg.TableColumn("source_file", "varchar", description="path under the landing dir"),
        dg.TableColumn("line_number", "bigint", description="1-based line in the file"),
        dg.TableColumn("element_index", "integer", description="0, or 1.. in an events array"),
        dg.TableColumn("source", "varchar", description="segment, client_api, identifier_api"),
        dg.TableColumn("kind", "varchar", description="Segment type or API endpoint"),
        dg.TableColumn("event_name", "varchar"),
        dg.TableColumn("occurred_at", "timestamp", description="UTC"),
        dg.TableColumn("received_at", "timestamp", description="UTC"),
        dg.TableColumn("payload", "json", description="the exact object received"),
        dg.TableColumn("user_id", "varchar", description="raw, before normalisation"),
        dg.TableColumn("anonymous_id", "varchar"),
        dg.TableColumn("previous_id", "varchar"),
        dg.TableColumn("email", "varchar"),
        dg.TableColumn("phone", "varchar"),
        dg.TableColumn("device_id", "varchar"),
        dg.TableColumn("platform", "varchar"),
        dg.TableColumn("fbclid", "varchar"),
        dg.TableColumn("gclid", "varchar"),
    ]
)
REJECTS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("day", "date"),
        dg.TableColumn("source_file", "varchar"),
        dg.TableColumn("line_number", "bigint"),
        dg.TableColumn("raw_line", "varchar", description="the line exactly as read"),
        dg.TableColumn("reason", "varchar", description="stable code, e.g. invalid_json"),
        dg.TableColumn("detail", "varchar", description="what exactly was wrong"),
    ]
)
FILES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("day", "date"),
        dg.TableColumn("source_file", "varchar"),
        dg.TableColumn("bytes", "bigint"),
        dg.TableColumn("modified_at", "timestamp"),
        dg.TableColumn("lines_read", "bigint"),
        dg.TableColumn("lines_accepted", "bigint"),
        dg.TableColumn("lines_rejected", "bigint"),
        dg.TableColumn("events_accepted", "bigint"),
        dg.TableColumn("ingested_at", "timestamp"),
    ]
)

_COMMON = {"group_name": "ingest", "kinds": {"duckdb"}, "owners": ["team:data-engineering"]}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "raw_events",
            description=(
                "Every accepted event of the landed exports, one row per event (an element of "
                "an `events` call's array is one event), with the exact payload received."
            ),
            metadata={"dagster/column_schema": RAW_EVENTS_SCHEMA},
            **_COMMON,
        ),
        dg.AssetSpec(
            "raw_event_rejects",
            description="Every landed line that was not accepted, with its raw text and reason.",
            metadata={"dagster/column_schema": REJECTS_SCHEMA},
            **_COMMON,
        ),
        dg.AssetSpec(
            "raw_files",
            description="Every landed file with its size and its lines read, accepted, rejected.",
            metadata={"dagster/column_schema": FILES_SCHEMA},
            **_COMMON,
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def ingest_landed_days(
    context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingDirectory
):
    """Read each day's landing folder in DuckDB and replace that day's rows.

    A run over a range of days reads them in a few large batches, so a backfill costs about
    what one run over the same data costs.
    """
    days = [date.fromisoformat(key) for key in context.partition_keys]
    context.log.info(f"ingesting {len(days)} day(s) from {landing.root}")
    batches: list[BatchIngest] = []
    with warehouse.get_connection() as conn:
        for batch in ingest_days(conn, landing.root, days, skip_unchanged=True):
            batches.append(batch)
            context.log.info(_progress_line(batch))
        day_params = {"first": min(days), "last": max(days)}
        events_preview = preview(
            conn,
            "select day, source_file, line_number, source, kind, event_name, occurred_at, "
            "payload from raw_events where day between $first and $last "
            "order by day desc, source_file, line_number, element_index limit 5",
            day_params,
        )
        rejects_preview = preview(
            conn,
            "select day, source_file, line_number, reason, detail, raw_line from "
            "raw_event_rejects where day between $first and $last "
            "order by day desc, source_file, line_number limit 5",
            day_params,
        )
        totals = conn.execute("select count(*) from raw_events").fetchone()[0]
    results = [d for batch in batches for d in batch.days]
    ignored = [name for d in results for name in d.ignored_files]
    if ignored:
        context.log.warning(
            f"{len(ignored)} landed file(s) are not .jsonl/.ndjson[.gz] and were not read: "
            + ", ".join(ignored[:10])
        )
    yield _events_result(results, events_preview, totals)
    yield _rejects_result(results, rejects_preview)
    yield _files_result(results)


def _progress_line(batch: BatchIngest) -> str:
    first, last = batch.days[0].day, batch.days[-1].day
    span = first.isoformat() if first == last else f"{first}..{last}"
    if batch.unchanged:
        return (
            f"kept {len(batch.days)} day(s) in {span} as they are: their {batch.files} files are "
            "the ones already ingested"
        )
    rate = batch.lines_read / batch.seconds if batch.seconds else 0.0
    return (
        f"ingested {span}: {batch.files} files, {batch.lines_read:,} lines, "
        f"{batch.events_accepted:,} events accepted, {batch.lines_rejected:,} lines rejected "
        f"in {batch.seconds:.1f}s ({rate:,.0f} lines/s)"
    )


def _events_result(
    days: list[DayIngest], events_preview: dg.MetadataValue, total_rows: int
) -> dg.MaterializeResult:
    by_source: Counter[str] = Counter()
    for day in days:
        by_source.update(day.events_by_source)
    return dg.MaterializeResult(
        asset_key="raw_events",
        metadata={
            "dagster/row_count": sum(d.events_accepted for d in days),
            "days": len(days),
            "lines_read": sum(d.lines_read for d in days),
            "lines_accepted": sum(d.lines_accepted for d in days),
            "events_accepted": sum(d.events_accepted for d in days),
            "events_in_table": total_rows,
            "events_by_source": counts_table("source", dict(by_source)),
            "events_by_day": markdown_table(
                ["day", "files", "lines read", "events", "rejected"],
                [
                    (
                        d.day,
                        d.files,
                        f"{d.lines_read:,}",
                        f"{d.events_accepted:,}",
                        d.lines_rejected,
                    )
                    for d in days[-31:]
                ],
            ),
            "preview": events_preview,
        },
    )


def _rejects_result(
    days: list[DayIngest], rejects_preview: dg.MetadataValue
) -> dg.MaterializeResult:
    reasons: Counter[str] = Counter()
    for day in days:
        reasons.update(day.rejects_by_reason)
    return dg.MaterializeResult(
        asset_key="raw_event_rejects",
        metadata={
            "dagster/row_count": sum(d.lines_rejected for d in days),
            "lines_rejected": sum(d.lines_rejected for d in days),
            "rejects_by_reason": counts_table("reason", dict(reasons)),
            "preview": rejects_preview,
        },
    )


def _files_result(days: list[DayIngest]) -> dg.MaterializeResult:
    ignored = [name for d in days for name in d.ignored_files]
    return dg.MaterializeResult(
        asset_key="raw_files",
        metadata={
            "dagster/row_count": sum(d.files for d in days),
            "files": sum(d.files for d in days),
            "ignored_files": markdown_table(["file"], [(name,) for name in ignored[:20]]),
        },
    )
