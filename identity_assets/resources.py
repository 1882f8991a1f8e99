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

from identity_assets.identity.graph import DEFAULT_MAX_LINKED, DEFAULT_PLACEHOLDERS, IdentityRules

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


class IdentityRulesResource(dg.ConfigurableResource):
    """How identifiers link: the phone region, placeholder values and the sharing guards."""

    phone_region: str = Field(default="US", description="region for phones without +country")
    max_linked_values: int = Field(
        default=DEFAULT_MAX_LINKED,
        description="an identifier seen with more distinct values of one strong type is shared",
    )
    max_identity_size: int = Field(
        default=50, description="identities with more identifiers raise a warning check"
    )
    extra_placeholders: list[str] = Field(
        default=[], description="values that never link, on top of the built-in list"
    )

    def rules(self) -> IdentityRules:
        return IdentityRules(
            placeholders=(*DEFAULT_PLACEHOLDERS, *self.extra_placeholders),
            max_linked=self.max_linked_values,
            phone_region=self.phone_region,
        )


def identity_rules_from_env() -> IdentityRulesResource:
    """The identity rules as configured by the environment."""
    extra = os.getenv("IDENTITY_EXTRA_PLACEHOLDERS", "")
    return IdentityRulesResource(
        phone_region=os.getenv("IDENTITY_PHONE_REGION", "US"),
        max_linked_values=int(os.getenv("IDENTITY_MAX_LINKED_VALUES", str(DEFAULT_MAX_LINKED))),
        max_identity_size=int(os.getenv("IDENTITY_MAX_IDENTITY_SIZE", "50")),
        extra_placeholders=[v for v in extra.split(",") if v.strip()],
    )


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
