"""Checks on metrics and values: bad predictions block; unusable purchase values warn.

The blocking ones verify the identities metrics changed since they last passed.
"""

import dagster as dg

from identity_assets.checks import changed_rows_check, failing_rows_check
from identity_assets.resources import Warehouse


@dg.asset_check(asset="customer_value", blocking=True)
def predictions_valid(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """No prediction is negative, NaN, infinite or missing, and each names its method."""
    return changed_rows_check(
        context,
        warehouse,
        "customer_metrics",
        "metrics/check_predictions_valid",
        "prediction(s) negative, NaN or missing",
    )


@dg.asset_check(asset="customer_metrics", blocking=True)
def one_metrics_row_per_identity(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """customer_metrics and customer_value each hold exactly one row per identity."""
    return changed_rows_check(
        context,
        warehouse,
        "customer_metrics",
        "metrics/check_one_row_per_identity",
        "identity row(s) missing or doubled",
    )


@dg.asset_check(asset="customer_metrics")
def purchase_values_usable(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Warns, listing them, about purchases whose value is missing, not a number or negative."""
    return failing_rows_check(
        warehouse,
        "metrics/check_purchase_values",
        "purchase event(s) with an unusable value, left out of spend",
        severity=dg.AssetCheckSeverity.WARN,
    )
