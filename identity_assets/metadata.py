"""Small helpers that turn query results into the metadata shown on materializations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg
import duckdb


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> dg.MetadataValue:
    """A Markdown table; an empty one says so rather than rendering a bare header."""
    if not rows:
        return dg.MetadataValue.md("_none_")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = (_cell(value) for value in row)
        lines.append("| " + " | ".join(cells) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def counts_table(label: str, counts: Mapping[str, int]) -> dg.MetadataValue:
    """A two-column Markdown table of counts, largest first."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return markdown_table([label, "count"], [(key, f"{value:,}") for key, value in ordered])


def preview(
    conn: duckdb.DuckDBPyConnection, query: str, params: Mapping[str, object] | None = None
) -> dg.MetadataValue:
    """The rows of `query` (keep it to a handful) as a Markdown table."""
    relation = conn.execute(query, params or {})
    headers = [column[0] for column in relation.description]
    return markdown_table(headers, relation.fetchall())


def row_count_change(context: dg.AssetExecutionContext, asset: str, rows: int) -> dict:
    """The asset's row count and its change since the previous materialization."""
    previous = context.instance.get_latest_materialization_event(dg.AssetKey(asset))
    before = None
    if previous is not None and previous.asset_materialization is not None:
        entry = previous.asset_materialization.metadata.get("dagster/row_count")
        before = entry.value if entry is not None else None
    metadata: dict[str, object] = {"dagster/row_count": rows}
    if isinstance(before, int):
        metadata["row_count_change"] = rows - before
    return metadata


def column_schema(*columns: tuple[str, str, str]) -> dict[str, dg.TableSchema]:
    """Asset metadata declaring a table's columns as (name, type, description)."""
    return {
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, kind, description=about) for name, kind, about in columns]
        )
    }


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."
