"""Segment definitions: a name and a SQL condition over an identity's metrics and value.

The condition reads the columns of `customer_metrics` (as `m`), `customer_value` (as `v`) and
`customer_profiles` (as `p`). The defaults below can be replaced, without code, by a JSON file
named by `IDENTITY_SEGMENTS`: a list of `{"name": ..., "where": ..., "description": ...}`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from identity_assets import sql


@dataclass(frozen=True)
class SegmentRule:
    """Identities for which `where` holds are in the segment `name`."""

    name: str
    where: str
    description: str = ""


DEFAULT_SEGMENTS = (
    SegmentRule(
        "high_value_predicted",
        "v.predicted_90d_value > 1000",
        "predicted 90-day value above 1,000 (the seed's threshold)",
    ),
    SegmentRule(
        "lapsing_buyers",
        "m.total_purchases >= 2 and m.recency_days > 60",
        "bought at least twice, but not in the last 60 days",
    ),
    SegmentRule(
        "new_customers",
        "m.total_purchases = 1 and m.recency_days <= 30",
        "made a first and only purchase in the last 30 days",
    ),
)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def check_segments(segments: tuple[SegmentRule, ...]) -> tuple[SegmentRule, ...]:
    """Names must be unique snake_case identifiers; conditions one expression, no statements."""
    seen = set()
    for segment in segments:
        if not _NAME.match(segment.name):
            raise ValueError(f"segment name {segment.name!r} must be snake_case, like high_value")
        if segment.name in seen:
            raise ValueError(f"segment {segment.name!r} is defined twice")
        if ";" in segment.where or not segment.where.strip():
            raise ValueError(f"segment {segment.name!r}: `where` must be one SQL condition")
        seen.add(segment.name)
    return segments


def load_segments(path: str | Path) -> tuple[SegmentRule, ...]:
    """Segments from a JSON file: a list of objects with the strings name, where and
    description."""
    try:
        items = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read segments from {path}: {error}") from error
    if not isinstance(items, list) or not items:
        raise ValueError(f"segments in {path} must be a non-empty JSON list")
    segments = []
    for number, item in enumerate(items, start=1):
        if (
            not isinstance(item, dict)
            or set(item) - {"name", "where", "description"}
            or not {"name", "where"} <= set(item)
            or not all(isinstance(value, str) for value in item.values())
        ):
            raise ValueError(
                f"segment {number} in {path} must be an object with the strings name, where "
                f"and optionally description, got {item!r}"
            )
        segments.append(SegmentRule(**item))
    return check_segments(tuple(segments))


def compile_conditions(segments: tuple[SegmentRule, ...]) -> None:
    """Compile each condition against the warehouse's tables, empty and in memory, in a
    DuckDB that may not touch files: a typo fails before any stage writes, and a condition
    that reads a file (`read_csv('/etc/passwd')`) is refused rather than run."""
    _compile(tuple((segment.name, segment.where) for segment in segments))


@cache
def _compile(conditions: tuple[tuple[str, str], ...]) -> None:
    with sql.empty_warehouse() as conn:
        conn.execute(
            "create temp table new_membership (identity_id varchar, segment varchar); "
            "set enable_external_access = false; set lock_configuration = true"
        )
        for name, where in conditions:
            query = sql.load("segments/segment_members").replace("{where}", where)
            try:
                conn.execute(f"explain {query}", {"segment": name})
            except duckdb.Error as error:
                first_line = str(error).strip().splitlines()[0]
                raise ValueError(
                    f"segment {name!r}: its condition {where!r} does not compile: {first_line}"
                ) from None
