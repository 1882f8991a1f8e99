"""Checks on the ingest tables: each runs one query that returns the offending rows."""

import dagster as dg

from identity_assets import sql
from identity_assets.metadata import preview
from identity_assets.resources import Warehouse

_SHOWN = 20


def failing_rows_check(warehouse: Warehouse, query_name: str, what: str) -> dg.AssetCheckResult:
    """Pass when the check's query returns no rows; otherwise show up to 20 of them."""
    query = sql.load(query_name)
    with warehouse.get_connection() as conn:
        failing = conn.execute(f"select count(*) from ({query})").fetchone()[0]
        shown = preview(conn, f"{query} limit {_SHOWN}") if failing else None
    metadata: dict[str, object] = {"failing_rows": failing, "expected_failing_rows": 0}
    if shown is not None:
        metadata["first_failing_rows"] = shown
    return dg.AssetCheckResult(
        passed=failing == 0,
        metadata=metadata,
        description=f"{failing:,} {what}" if failing else None,
    )


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
