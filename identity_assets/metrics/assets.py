"""The metrics stage in Dagster: journals into customer_metrics and customer_value."""

import dagster as dg

from identity_assets import changes, sql
from identity_assets.metadata import (
    counts_table,
    data_version,
    markdown_table,
    preview,
    row_count_change,
    stage_asset,
    table_schema,
    table_schemas,
)
from identity_assets.metrics.value import forget_values, update_values
from identity_assets.resources import FullRefresh, ValueRulesResource, Warehouse

_COMMON = stage_asset("metrics")
_UPSTREAM = ["identity_journal", "identities"]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "customer_metrics",
            deps=_UPSTREAM,
            description=(
                "Per identity: purchases, spend (main currency only), average order value, "
                "first/last purchase, purchase frequency, engagement and its score (the seed's "
                "metrics), recency, tenure, RFM and the BG/NBD and Gamma-Gamma summaries."
            ),
            metadata=table_schema("customer_metrics"),
            **_COMMON,
        ),
        dg.AssetSpec(
            "customer_value",
            deps=["customer_metrics"],
            description=(
                "Predicted 90-day value per identity from the model a backtest on this data "
                "chose (BG/NBD or Pareto/NBD with Gamma-Gamma, gradient boosting, recent "
                "spend), or the seed's formula where no model may predict, as `method` says."
            ),
            metadata=table_schema("customer_value"),
            **_COMMON,
        ),
    ],
)
def value_customers(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    value_rules: ValueRulesResource,
    full_refresh: FullRefresh,
):
    """Metrics of the identities the run touched in SQL, every row taken to as_of, then the
    value model's predictions, refitted on its fit days."""
    with warehouse.get_connection() as conn:
        if full_refresh.includes("metrics"):
            context.log.info("metrics: full refresh, rebuilding from the whole journal")
            forget_values(conn)
        result = update_values(conn, value_rules.rules())
        version = data_version(changes.latest_version(conn, "customer_metrics"))
        fit = result.fit
        context.log.info(
            f"metrics: {result.identities:,} identities, {result.buyers:,} buyers, "
            f"{result.purchases:,} purchases, unusable {result.bad_purchases or 'none'}; "
            f"model {fit.chosen or 'none'} ({fit.fit_reason or 'not fitted'})"
            f"{f' (scaled by {fit.calibration:.3f})' if fit.calibration != 1 else ''}"
            f"{': ' + fit.unfitted_reason if fit.unfitted_reason else ''}; "
            f"Gamma-Gamma fitted for {sorted(fit.gamma_gamma) or 'no currency'}"
            f"{_penalties(fit.gamma_gamma_penalizers)}, "
            f"unfitted {fit.gamma_gamma_unfitted or 'none'}; "
            f"in {result.seconds:.1f}s"
        )
        by_method = dict(
            conn.execute("select method, count(*) from customer_value group by 1").fetchall()
        )
        histogram = preview(conn, sql.load("metrics/value_histogram"))
        schemas = table_schemas(conn)
        top_decile = preview(conn, sql.load("metrics/top_decile"))
        currencies = dict(
            conn.execute(
                "select coalesce(currency, 'none'), count(*) from customer_metrics group by 1"
            ).fetchall()
        )
        top = preview(
            conn,
            "select identity_id, round(predicted_90d_value, 2) as predicted_90d_value, method, "
            "round(baseline_90d_value, 2) as baseline from customer_value "
            "order by predicted_90d_value desc, identity_id limit 5",
        )
    params = [("BG/NBD", k, round(v, 4)) for k, v in (fit.bg_nbd or {}).items()]
    params += [("Pareto/NBD", k, round(v, 4)) for k, v in (fit.pareto_nbd or {}).items()]
    params += [
        (f"Gamma-Gamma {currency}", k, round(v, 4))
        for currency, values in fit.gamma_gamma.items()
        for k, v in {**values, "penalizer": fit.gamma_gamma_penalizers.get(currency, 0.0)}.items()
    ]
    yield dg.MaterializeResult(
        data_version=version,
        asset_key="customer_metrics",
        metadata={
            "dagster/column_schema": schemas["customer_metrics"],
            **row_count_change(context, "customer_metrics", result.identities),
            "buyers": result.buyers,
            "purchases": result.purchases,
            "unusable_purchases": counts_table("problem", result.bad_purchases),
            "identities_by_main_currency": counts_table("currency", currencies),
            "as_of": result.as_of.isoformat(),
            "seconds": round(result.seconds, 2),
        },
    )
    total = sum(by_method.values()) or 1
    yield dg.MaterializeResult(
        data_version=version,
        asset_key="customer_value",
        metadata={
            "dagster/column_schema": schemas["customer_value"],
            **row_count_change(context, "customer_value", result.identities),
            "share_by_method": markdown_table(
                ["method", "identities", "percent"],
                [
                    (method, f"{count:,}", f"{100 * count / total:.1f}")
                    for method, count in sorted(by_method.items(), key=lambda kv: -kv[1])
                ],
            ),
            "predicted_value_histogram": histogram,
            "top_decile": top_decile,
            "highest_predicted": top,
            "model_parameters": markdown_table(["model", "parameter", "value"], params),
            "chosen_model": fit.chosen or f"none: {fit.unfitted_reason}",
            "model_backtest": _backtest_table(fit.candidates),
            "backtest_cut": fit.backtest_cut or "none",
            "fitted_at": fit.fitted_at or "none",
            "fit_reason": fit.fit_reason or f"not fitted: {fit.unfitted_reason}",
            "calibration_factor": fit.calibration,
            "history_days": fit.history_days,
        },
    )


def _backtest_table(rows: list[dict]) -> dg.MetadataValue:
    """Every candidate's scores on the stage's backtest, and which one was chosen or why not."""

    def number(value, digits):
        return "" if value is None else f"{value:,.{digits}f}"

    def total(row):
        if row["predicted_total"] is None or not row["actual_total"]:
            return ""
        return f"{row['predicted_total'] / row['actual_total'] - 1:+.1%}"

    return markdown_table(
        ["candidate", "MAE", "RMSE", "Spearman", "predicted", "actual", "total", "status"],
        [
            (
                r["candidate"],
                number(r["mae"], 2),
                number(r["rmse"], 2),
                number(r["spearman"], 3) or ("n/a" if r["mae"] is not None else ""),
                number(r["predicted_total"], 0),
                number(r["actual_total"], 0),
                total(r),
                r["status"],
            )
            for r in rows
        ],
    )


def _penalties(penalizers: dict[str, float]) -> str:
    """Which Gamma-Gamma fits needed an L2 penalty to converge, for the log."""
    if not penalizers:
        return ""
    return " (with L2 penalty " + ", ".join(f"{c} {p}" for c, p in penalizers.items()) + ")"
