"""The shape every asset check here shares: one query that returns the offending rows."""

import dagster as dg

from identity_assets import sql
from identity_assets.metadata import preview
from identity_assets.resources import Warehouse

SHOWN_ROWS = 20


def failing_rows_check(
    warehouse: Warehouse,
    query_name: str,
    what: str,
    params: dict[str, object] | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """Pass when the check's query returns no rows; otherwise show up to 20 of them."""
    query = sql.load(query_name)
    params = params or {}
    with warehouse.get_connection() as conn:
        failing = conn.execute(f"select count(*) from ({query})", params).fetchall()[0][0]
        shown = preview(conn, f"{query} limit {SHOWN_ROWS}", params) if failing else None
    metadata: dict[str, object] = {"failing_rows": failing, "expected_failing_rows": 0}
    if shown is not None:
        metadata["first_failing_rows"] = shown
    return dg.AssetCheckResult(
        passed=failing == 0,
        severity=severity,
        metadata=metadata,
        description=f"{failing:,} {what}" if failing else None,
    )
