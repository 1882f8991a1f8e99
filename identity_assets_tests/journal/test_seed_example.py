"""The identifier API documentation's own Dagster example runs on our journal output.

`calculate_customer_metrics` below is the body of the op of that name in the API's "Dagster
ETL Pipeline for Customer Scoring" example, unchanged but for the `@op` decorator (the test
calls it as a function). It reads `valuation_properties` and `created_at` of every entry, so
it fails on any entry that is not in the API's shape.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Dict, List  # noqa: UP035 - as the example has it

import pandas as pd
import pytest

from identity_assets.identity.graph import resolve_identities
from identity_assets.ingest.core import ingest_days, landed_days
from identity_assets.journal.build import update_journals
from identity_assets.journal.lookup import journal_response
from identity_assets.sample import SampleConfig, write_sample
from identity_assets_tests.builders import connect


def calculate_customer_metrics(context, journals: List[Dict]) -> pd.DataFrame:  # noqa: UP006
    """Calculates key customer metrics from journal data."""
    customer_metrics = []

    for journal_data in journals:
        user_metrics = {
            "uuid": journal_data["uuid"],
            "total_purchases": 0,
            "total_spend": 0,
            "avg_order_value": 0,
            "first_purchase_date": None,
            "last_purchase_date": None,
            "purchase_frequency": 0,
            "engagement_score": 0,
        }

        purchase_amounts = []
        engagement_events = 0

        # Analyze journal entries
        for entry in journal_data["journal"]:
            props = entry["valuation_properties"]

            # Track purchases
            if props["action"] == "purchase":
                amount = props["properties"].get("value", 0)
                purchase_amounts.append(amount)
                user_metrics["total_spend"] += amount

                purchase_date = datetime.fromisoformat(entry["created_at"].replace("Z", "+00:00"))
                if not user_metrics["first_purchase_date"]:
                    user_metrics["first_purchase_date"] = purchase_date
                user_metrics["last_purchase_date"] = purchase_date

            # Track engagement
            if props["action"] in ["page_view", "product_view", "add_to_cart"]:
                engagement_events += 1

        # Calculate derived metrics
        if purchase_amounts:
            user_metrics.update(
                {
                    "total_purchases": len(purchase_amounts),
                    "avg_order_value": sum(purchase_amounts) / len(purchase_amounts),
                }
            )

        if user_metrics["first_purchase_date"] and user_metrics["last_purchase_date"]:
            days_active = (
                user_metrics["last_purchase_date"] - user_metrics["first_purchase_date"]
            ).days
            if days_active > 0:
                user_metrics["purchase_frequency"] = user_metrics["total_purchases"] / days_active

        # Calculate engagement score
        user_metrics["engagement_score"] = (engagement_events * 0.3) + (
            user_metrics["total_purchases"] * 0.7
        )

        customer_metrics.append(user_metrics)

    return pd.DataFrame(customer_metrics)


@pytest.mark.heavy
def test_the_apis_dagster_example_runs_on_journals_of_every_source(tmp_path) -> None:
    landing = tmp_path / "landing"
    write_sample(landing, SampleConfig(people=200, days=3, history_days=30))
    conn = connect()
    list(ingest_days(conn, landing, landed_days(landing, date(2024, 1, 1))))
    resolve_identities(conn)
    update_journals(conn)
    # the identities whose journals mix the most sources
    chosen = conn.execute(
        "select identity_id from identity_journal group by identity_id "
        "order by count(distinct source) desc, count(*) desc, identity_id limit 40"
    ).fetchall()
    sources = conn.execute(
        "select count(distinct source) from identity_journal "
        "where identity_id in (select unnest(?))",
        [[identity_id for (identity_id,) in chosen]],
    ).fetchone()[0]
    assert sources == 3
    journals = []
    for (identity_id,) in chosen:
        user_id = conn.execute(
            "select identifier_type, identifier_value from identity_map "
            "where identity_id = ? order by identifier_type limit 1",
            [identity_id],
        ).fetchone()
        status, text = journal_response(conn, *user_id)
        assert status == 200
        journals.append(json.loads(text)["data"])

    metrics = calculate_customer_metrics(None, journals)

    assert list(metrics["uuid"]) == [identity_id for (identity_id,) in chosen]
    # the identifier API's purchases are read as the example means them to be
    purchases = conn.execute(
        "select count(*) from identity_journal where identity_id in "
        "(select unnest(?)) and source = 'identifier_api' and event_name = 'purchase'",
        [[identity_id for (identity_id,) in chosen]],
    ).fetchone()[0]
    assert purchases > 0
    assert metrics["total_purchases"].sum() == purchases
