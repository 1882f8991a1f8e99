"""Checks on the ingest tables: each verifies the days ingest changed since it last passed."""

import dagster as dg

from identity_assets.checks import changed_rows_check
from identity_assets.resources import Warehouse


@dg.asset_check(asset="raw_files", blocking=True)
def lines_balance(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """Per file, lines read = accepted lines + rejected lines: nothing dropped or doubled."""
    return changed_rows_check(
        context,
        warehouse,
        "raw_events",
        "ingest/check_lines_balance",
        "file(s) where read <> accepted + rejected",
    )


@dg.asset_check(asset="raw_events", blocking=True)
def one_row_per_event(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """Every event_id is stored once: re-runs and re-delivered files add no copies."""
    return changed_rows_check(
        context,
        warehouse,
        "raw_events",
        "ingest/check_one_row_per_event",
        "event(s) stored more than once",
    )
