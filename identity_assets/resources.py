"""Configuration of the pipeline: the warehouse, the landing directory and their defaults.

Every setting has a working local default and can be changed with an `IDENTITY_*` environment
variable (the names are part of the output contract and listed in the README). This is the one
module that reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

DEFAULT_LANDING_DIR = "data/landing"
DEFAULT_DUCKDB_PATH = "data/identity.duckdb"
DEFAULT_FIRST_DAY = "2024-01-01"


def first_day() -> date:
    """The first daily partition (`IDENTITY_FIRST_DAY`, default 2024-01-01)."""
    value = os.getenv("IDENTITY_FIRST_DAY", DEFAULT_FIRST_DAY)
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"IDENTITY_FIRST_DAY must be a YYYY-MM-DD date, got {value!r}") from error


class Warehouse(DuckDBResource):
    """The DuckDB file every stage reads and writes (`IDENTITY_DUCKDB_PATH`).

    Its folder is created on first use, so a fresh clone runs without setup. Set
    `IDENTITY_DUCKDB_MEMORY_LIMIT` (e.g. `2GB`) to cap DuckDB's memory: it spills to disk
    beyond it instead of failing.
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.database != ":memory:":
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as conn:
            conn.execute("set enable_progress_bar = false")
            yield conn


class LandingDirectory(dg.ConfigurableResource):
    """Where daily export folders land: `<path>/<YYYY-MM-DD>/<file>.jsonl[.gz]`."""

    path: str = Field(description="landing directory; relative paths are taken from the cwd")

    @property
    def root(self) -> Path:
        return Path(self.path).expanduser().resolve()


def warehouse_from_env() -> Warehouse:
    """The warehouse as configured by the environment."""
    config: dict[str, object] = {}
    memory_limit = os.getenv("IDENTITY_DUCKDB_MEMORY_LIMIT")
    if memory_limit:
        config["memory_limit"] = memory_limit
    threads = os.getenv("IDENTITY_DUCKDB_THREADS")
    if threads:
        config["threads"] = int(threads)
    return Warehouse(
        database=os.getenv("IDENTITY_DUCKDB_PATH", DEFAULT_DUCKDB_PATH), connection_config=config
    )


def landing_from_env() -> LandingDirectory:
    """The landing directory as configured by the environment."""
    return LandingDirectory(path=os.getenv("IDENTITY_LANDING_DIR", DEFAULT_LANDING_DIR))
