"""Checks on the ingest tables: each runs one query that returns the offending rows."""

import dagster as dg

from identity_assets.checks import failing_rows_check
from identity_assets.resources import Warehouse


@dg.asset_check(asset="raw_files", blocking=True)
def lines_balance(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Per file, lines read = accepted lines + rejected lines: nothing dropped or doubled."""
    return failing_rows_check(
        warehouse, "ingest/check_lines_balance", "file(s) where read <> accepted + rejected"
    )


@dg.asset_check(asset="raw_events", blocking=True)
def one_row_per_event(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Every event_id is stored once: re-runs and re-delivered files add no copies."""
    return failing_rows_check(
        warehouse, "ingest/check_one_row_per_event", "event(s) stored more than once"
    )
