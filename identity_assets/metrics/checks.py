"""Checks on metrics and values: bad predictions block; unusable purchase values, purchase
rules that match nothing and predictions that no trusted model made warn.

The blocking ones verify the identities metrics changed since they last passed.
"""

from identity_assets.checks import RowCheck, stage_checks

metrics_checks = stage_checks(
    "metrics_checks",
    {
        "predictions_valid": RowCheck(
            "customer_value",
            "metrics/check_predictions_valid",
            "prediction(s) negative, NaN or missing",
            "No prediction is negative, NaN, infinite or missing, and each names its method.",
            producer="customer_metrics",
        ),
        "one_metrics_row_per_identity": RowCheck(
            "customer_metrics",
            "metrics/check_one_row_per_identity",
            "identity row(s) missing or doubled",
            "customer_metrics and customer_value each hold exactly one row per identity.",
            producer="customer_metrics",
        ),
        "purchase_values_usable": RowCheck(
            "customer_metrics",
            "metrics/check_purchase_values",
            "purchase event(s) with an unusable value, left out of spend",
            "Warns, listing them, about purchases whose value is missing, not a number or "
            "negative.",
            blocking=False,
        ),
        "every_purchase_rule_matches": RowCheck(
            "customer_metrics",
            "metrics/check_purchase_rules_match",
            "purchase rule(s) matched no event",
            "Warns, naming them, about purchase rules that matched no event on the data.",
            blocking=False,
            params=lambda resources: {
                "rules": [rule.name for rule in resources.value_rules.rules().purchases]
            },
        ),
        "value_model_trusted": RowCheck(
            "customer_value",
            "metrics/check_value_model_trusted",
            "method(s) giving buyers a value no trusted model made",
            "Warns, by method, about buyers whose value does not come from a fitted model that "
            "its backtest trusted: too short a history, too few repeat buyers, a fit that failed "
            "or is degenerate, no model better than recent spend, a total scaled to the "
            "backtest, or no backtest at all.",
            blocking=False,
        ),
    },
    resource_keys=frozenset({"value_rules"}),
)
