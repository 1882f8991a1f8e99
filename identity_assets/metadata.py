"""Small helpers that turn query results into the metadata shown on materializations."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb

from identity_assets import sql


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


def stage_asset(stage: str, *kinds: str) -> dict[str, object]:
    """What every asset of `stage` declares alike: its group, kinds, owner and code version."""
    return {
        "group_name": stage,
        "kinds": {"duckdb", *kinds},
        "owners": ["team:data-engineering"],
        "code_version": code_version(stage),
    }


@cache
def code_version(stage: str) -> str:
    """A digest of the stage's Python and SQL and of the shared ones. Dagster shows an
    asset whose code version differs from its data's as changed; `identity-assets run --all
    --full-refresh --from STAGE` rebuilds the stage's history with the new code."""
    return source_digest(Path(__file__).parent, (stage, "changes", "shared"))


def source_digest(root: Path, folders: tuple[str, ...]) -> str:
    """A digest of the names and contents of the Python and SQL files under `folders`."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in (".py", ".sql"):
                digest.update(path.relative_to(root).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def data_version(*parts: object) -> dg.DataVersion:
    """A data version from what identifies the data (a change version, a table digest): the
    same when the stage's output did not change."""
    return dg.DataVersion("-".join(str(part) for part in parts))


def table_schema(table: str) -> dict[str, dg.TableSchema]:
    """Asset metadata declaring `table`'s columns as its stage's `create_tables.sql` makes them.

    The SQL that creates the tables is the one place columns are written down: their types come
    from DuckDB and their descriptions from the `comment on column` statements beside them.
    """
    schemas = declared_schemas()
    if table not in schemas:
        raise KeyError(f"no stage's create_tables.sql creates a table {table!r}")
    return {"dagster/column_schema": schemas[table]}


@cache
def declared_schemas() -> Mapping[str, dg.TableSchema]:
    """Every table of every stage, made by the stages' `create_tables.sql` in an empty DuckDB;
    built once per process, when the definitions load."""
    with sql.empty_warehouse() as conn:
        return table_schemas(conn)


def table_schemas(conn: duckdb.DuckDBPyConnection) -> dict[str, dg.TableSchema]:
    """The column schema of each table of the connection's main schema, in column order.

    Read from the warehouse into each materialization's `dagster/column_schema`, it is what the
    column schema change checks compare from one materialization to the next.
    """
    rows = conn.execute(
        "select table_name, column_name, lower(data_type), is_nullable, comment "
        "from duckdb_columns() "
        "where database_name = current_database() and schema_name = 'main' and not internal "
        "order by table_name, column_index"
    ).fetchall()
    columns: dict[str, list[dg.TableColumn]] = {}
    for table, name, kind, nullable, comment in rows:
        columns.setdefault(table, []).append(
            dg.TableColumn(
                name,
                kind,
                description=comment or None,
                constraints=dg.TableColumnConstraints(nullable=nullable),
            )
        )
    return {table: dg.TableSchema(columns=cols) for table, cols in columns.items()}


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."
