"""What counts as a purchase, where its value sits, and what counts as engagement.

Sources put a purchase's value in different places: Segment `Order Completed` carries
`properties.value` or `properties.revenue`, the identifier API `valuation_properties.properties
.value` under the action `purchase`, the client API `data.price` times `data.quantity`. The
mapping is data, not code: the defaults below, or a JSON file named by
`IDENTITY_PURCHASE_RULES` holding a list of objects with the same fields.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from identity_assets import sql


@dataclass(frozen=True)
class PurchaseRule:
    """Events of `source` named one of `event_names` (case-insensitive) are purchases.

    The amount is the first of `value_paths` present in the payload (JSON paths), times the
    value at `quantity_path` when there is one (absent: 1). The currency is read at
    `currency_path`, or is `default_currency` when the event has none (Segment's spec defaults
    to USD).
    """

    name: str
    source: str
    event_names: tuple[str, ...]
    value_paths: tuple[str, ...]
    currency_path: str
    quantity_path: str | None = None
    default_currency: str = "USD"


DEFAULT_PURCHASE_RULES = (
    PurchaseRule(
        name="segment_order",
        source="segment",
        event_names=("Order Completed", "purchase"),
        value_paths=("$.properties.value", "$.properties.revenue", "$.properties.total"),
        currency_path="$.properties.currency",
    ),
    PurchaseRule(
        name="identifier_api_purchase",
        source="identifier_api",
        event_names=("purchase",),
        value_paths=(
            "$.body.valuation_properties.properties.value",
            "$.body.valuation_properties.properties.revenue",
        ),
        currency_path="$.body.valuation_properties.properties.currency",
    ),
    PurchaseRule(
        name="client_api_purchase",
        source="client_api",
        event_names=("Product Purchased", "Order Completed", "purchase"),
        value_paths=("$.data.price", "$.data.value"),
        quantity_path="$.data.quantity",
        currency_path="$.data.currency",
    ),
)

# Engagement as the seed counts it (page views, product views, adds to cart), by event name in
# snake_case, whatever the source calls them; Segment `page` and `screen` calls count too.
DEFAULT_ENGAGEMENT_EVENTS = (
    "page_view",
    "pageview",
    "product_view",
    "product_viewed",
    "add_to_cart",
    "added_to_cart",
    "product_added",
)


@dataclass(frozen=True)
class ValueRules:
    """Everything the metrics stage needs to know about a business's events."""

    purchases: tuple[PurchaseRule, ...] = DEFAULT_PURCHASE_RULES
    engagement_events: tuple[str, ...] = DEFAULT_ENGAGEMENT_EVENTS
    horizon_days: int = 90
    min_repeat_buyers: int = field(default=20)
    # no model predicts from a history shorter than this many horizons (3 x 90 = 270 days)
    min_history_multiple: float = 3.0
    # the model is refitted on a fixed grid of this many days (1: every run), and sooner on
    # the first day the buyers grew by this share since the last fit day (decision 0019)
    refit_days: int = 7
    refit_new_buyers: float = 0.10


SOURCES = ("segment", "identifier_api", "client_api")
# A JSON path as the rules write it: $ then .key, ."quoted key" or [index] steps.
_JSON_PATH = re.compile(r'^\$(\.[A-Za-z_][A-Za-z0-9_]*|\."[^"]+"|\[\d+\])+$')
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def load_purchase_rules(path: str | Path) -> tuple[PurchaseRule, ...]:
    """Purchase rules from a JSON file: a list of objects with PurchaseRule's fields, each of
    its type (a string where a list belongs is an error, not a list of letters)."""
    try:
        items = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read purchase rules from {path}: {error}") from error
    if not isinstance(items, list) or not items:
        raise ValueError(f"purchase rules in {path} must be a non-empty JSON list")
    rules = []
    for number, item in enumerate(items, start=1):
        try:
            rules.append(_purchase_rule(item))
        except ValueError as error:
            raise ValueError(f"purchase rule {number} in {path}: {error}") from None
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"purchase rules in {path} must have distinct names, got {names}")
    return tuple(rules)


def _purchase_rule(item: object) -> PurchaseRule:
    if not isinstance(item, dict):
        raise ValueError(f"must be an object, got {item!r}")
    fields = {f.name for f in dataclasses.fields(PurchaseRule)}
    required = {"name", "source", "event_names", "value_paths", "currency_path"}
    if unknown := sorted(set(item) - fields):
        raise ValueError(f"unknown keys {unknown}; known: {', '.join(sorted(fields))}")
    if missing := sorted(required - set(item)):
        raise ValueError(f"missing {', '.join(missing)}")
    if not isinstance(item["name"], str) or not item["name"].strip():
        raise ValueError(f"name must be a non-empty string, got {item['name']!r}")
    if item["source"] not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {item['source']!r}")
    for key in ("event_names", "value_paths"):
        value = item[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key} must be a non-empty list of strings, got {value!r}")
    paths = [*item["value_paths"], item["currency_path"]]
    if item.get("quantity_path") is not None:
        paths.append(item["quantity_path"])
    for json_path in paths:
        if not isinstance(json_path, str) or not _JSON_PATH.match(json_path):
            raise ValueError(
                f"{json_path!r} is not a JSON path like $.properties.value or $.items[0].price"
            )
    currency = item.get("default_currency", "USD")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise ValueError(f"default_currency must be a 3-letter currency code, got {currency!r}")
    return PurchaseRule(
        **{
            **item,
            "event_names": tuple(item["event_names"]),
            "value_paths": tuple(item["value_paths"]),
        }
    )


def rule_parameters(rule: PurchaseRule) -> dict[str, object]:
    """A purchase rule as the parameters of `sql/insert_purchases.sql`."""
    return {
        "rule": rule.name,
        "source": rule.source,
        "event_names": [name.lower() for name in rule.event_names],
        "value_paths": list(rule.value_paths),
        "has_quantity": rule.quantity_path is not None,
        "quantity_path": rule.quantity_path or "$.quantity",
        "currency_path": rule.currency_path,
        "default_currency": rule.default_currency.upper(),
    }


def stage_engagement(conn: duckdb.DuckDBPyConnection, rules: ValueRules) -> None:
    """Put the engagement event names where the SQL reads them: temp table engagement_events."""
    names = pa.table({"event_name": pa.array(rules.engagement_events, pa.string())})
    sql.insert_arrow(conn, "engagement_events", names, replace_temp=True)
