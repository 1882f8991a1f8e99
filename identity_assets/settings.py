"""The environment variables that configure identity_assets, with their local defaults.

This is the one module that reads the environment; it imports nothing heavy, so quick
commands (look-ups) start fast. The variables are part of the output contract (README).
"""

from __future__ import annotations

import os
from datetime import date

DEFAULT_LANDING_DIR = "data/landing"
DEFAULT_DUCKDB_PATH = "data/identity.duckdb"
DEFAULT_FIRST_DAY = "2024-01-01"
DEFAULT_PHONE_REGION = "US"
DEFAULT_API_URL = "http://127.0.0.1:8787/api/v1"


def first_day() -> date:
    """The first daily partition (`IDENTITY_FIRST_DAY`, default 2024-01-01)."""
    value = os.getenv("IDENTITY_FIRST_DAY", DEFAULT_FIRST_DAY)
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"IDENTITY_FIRST_DAY must be a YYYY-MM-DD date, got {value!r}") from error


def timezone() -> str:
    """Time zone of the daily partitions and the schedule (`IDENTITY_TIMEZONE`, default UTC)."""
    return os.getenv("IDENTITY_TIMEZONE", "UTC")


def schedule_cron() -> str:
    """When the daily run starts, as cron (`IDENTITY_SCHEDULE_CRON`, default 03:00)."""
    return os.getenv("IDENTITY_SCHEDULE_CRON", "0 3 * * *")


def duckdb_path() -> str:
    """The warehouse file (`IDENTITY_DUCKDB_PATH`)."""
    return os.getenv("IDENTITY_DUCKDB_PATH", DEFAULT_DUCKDB_PATH)


def landing_dir() -> str:
    """Where daily export folders land (`IDENTITY_LANDING_DIR`)."""
    return os.getenv("IDENTITY_LANDING_DIR", DEFAULT_LANDING_DIR)


def phone_region() -> str:
    """Region for phone numbers written without a country code (`IDENTITY_PHONE_REGION`)."""
    return os.getenv("IDENTITY_PHONE_REGION", DEFAULT_PHONE_REGION)


def duckdb_config() -> dict[str, object]:
    """DuckDB settings: `IDENTITY_DUCKDB_MEMORY_LIMIT` (e.g. 2GB) and `IDENTITY_DUCKDB_THREADS`."""
    config: dict[str, object] = {}
    memory_limit = os.getenv("IDENTITY_DUCKDB_MEMORY_LIMIT")
    if memory_limit:
        config["memory_limit"] = memory_limit
    threads = os.getenv("IDENTITY_DUCKDB_THREADS")
    if threads:
        config["threads"] = int(threads)
    return config


def number(name: str, default: float) -> float:
    """A number setting, with an error naming the variable when it is not one."""
    value = os.getenv(name, str(default))
    try:
        return float(value)
    except ValueError as error:
        raise ValueError(f"{name} must be a number, got {value!r}") from error


def integer(name: str, default: int) -> int:
    """An integer setting, with an error naming the variable when it is not one."""
    value = os.getenv(name, str(default))
    try:
        return int(value)
    except ValueError as error:
        raise ValueError(f"{name} must be an integer, got {value!r}") from error


def text(name: str) -> str | None:
    """A text setting, or None when it is unset or empty."""
    return os.getenv(name) or None


def text_list(name: str) -> list[str]:
    """A comma-separated setting as a list of its non-empty items."""
    return [v for v in os.getenv(name, "").split(",") if v.strip()]
