"""Loads the SQL files that hold each stage's transforms.

SQL lives in `<stage>/sql/<name>.sql` so it can be read, diffed and later ported to another
engine on its own; values go in as DuckDB parameters (`$day`), never formatted into the text.
"""

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """Return the text of `identity_assets/<stage>/sql/<table>.sql` for `name` = "stage/table"."""
    stage, _, table = name.partition("/")
    if not stage or not table:
        raise ValueError(f"SQL name must look like 'stage/table', got {name!r}")
    return resources.files("identity_assets").joinpath(stage, "sql", f"{table}.sql").read_text()
