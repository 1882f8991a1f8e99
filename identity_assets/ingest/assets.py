"""The ingest stage in Dagster: landing folders into raw_events, raw_event_rejects, raw_files."""

from datetime import date

import dagster as dg

from identity_assets import changes
from identity_assets.ingest.core import BatchIngest, DayIngest, ingest_days
from identity_assets.metadata import (
    counts_table,
    data_version,
    markdown_table,
    preview,
    stage_asset,
    table_schema,
    table_schemas,
)
from identity_assets.partitions import daily_partitions
from identity_assets.resources import FullRefresh, LandingDirectory, Warehouse

# The tables ingest writes, each an asset, with its description.
_TABLES = {
    "raw_events": (
        "Every accepted event of the landed exports, one row per event (an element of "
        "an `events` call's array is one event), with the exact payload received."
    ),
    "raw_event_rejects": "Every landed line that was not accepted, with its raw text and reason.",
    "raw_files": "Every landed file with its size and its lines read, accepted, rejected.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(name, description=text, metadata=table_schema(name), **stage_asset("ingest"))
        for name, text in _TABLES.items()
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def ingest_landed_days(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    landing: LandingDirectory,
    full_refresh: FullRefresh,
):
    """Read each day's landing folder in DuckDB and replace that day's rows.

    A run over a range of days reads them in a few large batches, so a backfill costs about
    what one run over the same data costs.
    """
    days = [date.fromisoformat(key) for key in context.partition_keys]
    context.log.info(f"ingesting {len(days)} day(s) from {landing.root}")
    batches: list[BatchIngest] = []
    with warehouse.get_connection() as conn:
        reread = full_refresh.includes("ingest")
        for batch in ingest_days(
            conn, landing.root, days, skip_unchanged=not reread, window=landing.window()
        ):
            batches.append(batch)
            context.log.info(_progress_line(batch))
        version = data_version(changes.latest_version(conn, "raw_events"))
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
        schemas = table_schemas(conn)
    results = [d for batch in batches for d in batch.days]
    ignored = [name for d in results for name in d.ignored_files]
    if ignored:
        context.log.warning(
            f"{len(ignored)} landed file(s) are not .jsonl/.ndjson[.gz] and were not read: "
            + ", ".join(ignored[:10])
        )
    for day in results:
        for asset, metadata in _day_metadata(day).items():
            context.add_asset_metadata(metadata, asset_key=asset, partition_key=day.day.isoformat())
    own = {
        "raw_events": {
            "days_in_run": len(results),
            "events_in_table": totals,
            "events_by_day_in_run": _events_by_day(results),
            "preview": events_preview,
        },
        "raw_event_rejects": {"preview": rejects_preview},
        "raw_files": {},
    }
    for asset in _TABLES:
        yield dg.MaterializeResult(
            data_version=version,
            asset_key=asset,
            metadata={"dagster/column_schema": schemas[asset], **own[asset]},
        )


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


def _day_metadata(day: DayIngest) -> dict[str, dict[str, object]]:
    """One day's own figures for each ingest asset: a range run records each day apart."""
    return {
        "raw_events": {
            "dagster/row_count": day.events_accepted,
            "lines_read": day.lines_read,
            "lines_accepted": day.lines_accepted,
            "events_accepted": day.events_accepted,
            "events_by_source": counts_table("source", day.events_by_source),
        },
        "raw_event_rejects": {
            "dagster/row_count": day.lines_rejected,
            "lines_rejected": day.lines_rejected,
            "rejects_by_reason": counts_table("reason", day.rejects_by_reason),
        },
        "raw_files": {
            "dagster/row_count": day.files,
            "files": day.files,
            "ignored_files": markdown_table(["file"], [(name,) for name in day.ignored_files]),
        },
    }


def _events_by_day(days: list[DayIngest]) -> dg.MetadataValue:
    """The run's days side by side (the last 31), shown on each day's materialization."""
    return markdown_table(
        ["day", "files", "lines read", "events", "rejected"],
        [
            (d.day, d.files, f"{d.lines_read:,}", f"{d.events_accepted:,}", d.lines_rejected)
            for d in days[-31:]
        ],
    )
