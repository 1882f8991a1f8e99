"""Checks on metrics and values: bad predictions block; unusable purchase values, purchase
rules that match nothing and predictions that no trusted model made warn.

The blocking ones verify the identities metrics changed since they last passed.
"""

import dagster as dg

from identity_assets.checks import changed_rows_check, failing_rows_check
from identity_assets.resources import ValueRulesResource, Warehouse


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


@dg.asset_check(asset="customer_metrics")
def every_purchase_rule_matches(
    warehouse: Warehouse, value_rules: ValueRulesResource
) -> dg.AssetCheckResult:
    """Warns, naming them, about purchase rules that matched no event on the data."""
    return failing_rows_check(
        warehouse,
        "metrics/check_purchase_rules_match",
        "purchase rule(s) matched no event",
        params={"rules": [rule.name for rule in value_rules.rules().purchases]},
        severity=dg.AssetCheckSeverity.WARN,
    )


@dg.asset_check(asset="customer_value")
def value_model_trusted(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Warns, by method, about buyers whose value does not come from a fitted model that its
    backtest trusted: too short a history, too few repeat buyers, a fit that failed or is
    degenerate, no model better than recent spend, a total scaled to the backtest, or no
    backtest at all."""
    return failing_rows_check(
        warehouse,
        "metrics/check_value_model_trusted",
        "method(s) giving buyers a value no trusted model made",
        severity=dg.AssetCheckSeverity.WARN,
    )
