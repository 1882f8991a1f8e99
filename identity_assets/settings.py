"""The environment variables that configure identity_assets, with their local defaults.

This is the one module that reads the environment, and each reader checks what it reads: a
value that is not allowed raises `ConfigError` naming the variable, the value and what is
allowed, before any step runs (`identity_assets.configuration` checks them all when the
definitions load). It imports nothing heavy, so quick commands (look-ups) start fast. The
variables are part of the output contract (README, `identity-assets --help`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_LANDING_DIR = "data/landing"
DEFAULT_DUCKDB_PATH = "data/identity.duckdb"
DEFAULT_PHONE_REGION = "US"
DEFAULT_API_URL = "http://127.0.0.1:8787/api/v1"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_SCHEDULE_CRON = "0 3 * * *"

_DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^[+-]?\d+$")
# DuckDB's memory sizes: a number and a unit (1000^i or 1024^i), or a share of the RAM.
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(b|bytes|kb|mb|gb|tb|kib|mib|gib|tib|%)$", re.IGNORECASE)


class ConfigError(ValueError):
    """A setting that is not allowed: one line naming the variable, the value, what is allowed."""

    def __init__(self, variable: str, value: object, allowed: str) -> None:
        self.variable = variable
        one_line = " ".join(str(allowed).split())
        super().__init__(f"{variable}={value!r}: {one_line}")


@dataclass(frozen=True)
class Variable:
    """A variable as `--help` and the README list it."""

    name: str
    default: str
    accepts: str


VARIABLES = (
    Variable("IDENTITY_LANDING_DIR", DEFAULT_LANDING_DIR, "a directory (need not exist yet)"),
    Variable("IDENTITY_DUCKDB_PATH", DEFAULT_DUCKDB_PATH, "a file path, not a directory"),
    Variable("IDENTITY_FIRST_DAY", "the earliest landed day, else today", "a YYYY-MM-DD date"),
    Variable("IDENTITY_TIMEZONE", DEFAULT_TIMEZONE, "an IANA time zone, e.g. Europe/Paris"),
    Variable("IDENTITY_SCHEDULE_CRON", DEFAULT_SCHEDULE_CRON, "a 5-field cron expression"),
    Variable("IDENTITY_PHONE_REGION", DEFAULT_PHONE_REGION, "a region phonenumbers knows, e.g. GB"),
    Variable("IDENTITY_MAX_LINKED_VALUES", "3", "a whole number >= 1"),
    Variable("IDENTITY_MAX_IDENTITY_SIZE", "50", "a whole number >= 1"),
    Variable("IDENTITY_EXTRA_PLACEHOLDERS", "none", "comma-separated values"),
    Variable("IDENTITY_RULES", "built-in rules", "a JSON file (see Identity)"),
    Variable("IDENTITY_PURCHASE_RULES", "built-in rules", "a JSON file (see Metrics)"),
    Variable("IDENTITY_MIN_REPEAT_BUYERS", "20", "a whole number >= 1"),
    Variable("IDENTITY_MIN_HISTORY_MULTIPLE", "3", "a number >= 0"),
    Variable("IDENTITY_REFIT_DAYS", "7", "a whole number >= 1"),
    Variable("IDENTITY_REFIT_NEW_BUYERS", "0.1", "a number >= 0"),
    Variable("IDENTITY_SEGMENTS", "built-in segments", "a JSON file (see Segments)"),
    Variable(
        "IDENTITY_API_URL", DEFAULT_API_URL, "an http(s) URL with a host and no user:password@"
    ),
    Variable("IDENTITY_API_TOKEN", "none", "any text"),
    Variable("IDENTITY_API_PLATFORM", "identity-assets", "any text"),
    Variable("IDENTITY_API_CONCURRENCY", "8", "a whole number >= 1"),
    Variable("IDENTITY_API_BREAKER_FAILURES", "5", "a whole number >= 1"),
    Variable("IDENTITY_API_SEND_HASHES", "false", "true or false"),
    Variable("IDENTITY_EARLIEST_EVENT", "2000-01-01", "a YYYY-MM-DD date"),
    Variable("IDENTITY_MAX_CLOCK_SKEW_HOURS", "24", "a whole number >= 0"),
    Variable(
        "IDENTITY_DUCKDB_MEMORY_LIMIT", "DuckDB's (80% of RAM)", "a size such as 2GB, 512MiB, 50%"
    ),
    Variable("IDENTITY_DUCKDB_THREADS", "all cores", "a whole number >= 1"),
    Variable("IDENTITY_SERVING_DIR", "serving/ beside the warehouse", "a directory"),
    Variable("IDENTITY_SERVE_TOKENS", "none", "comma-separated tokens"),
    Variable("IDENTITY_SERVE_PROFILE_TOKENS", "none", "comma-separated partner:token pairs"),
    Variable("IDENTITY_SERVE_QUOTA", "1000", "a whole number >= 1"),
)


def _checked(name: str, default: str, ok, allowed: str) -> str:
    """The variable's value (its default when unset or empty), raising unless `ok(value)`."""
    value = os.getenv(name) or default
    try:
        good = ok(value)
    except ValueError:
        good = False
    if not good:
        raise ConfigError(name, value, allowed)
    return value


def first_day() -> date:
    """The first daily partition: `IDENTITY_FIRST_DAY`, else the earliest landed day folder,
    else today (UTC), so the partitions are the days that have data."""
    if os.getenv("IDENTITY_FIRST_DAY"):
        return date.fromisoformat(day("IDENTITY_FIRST_DAY", ""))
    return earliest_landed_day(Path(landing_dir())) or datetime.now(UTC).date()


def parse_day(name: str) -> date | None:
    """The day a `YYYY-MM-DD` folder name stands for, or None for any other name."""
    if not _DAY_FOLDER.match(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def earliest_landed_day(landing: Path) -> date | None:
    """The earliest `YYYY-MM-DD` folder of the landing directory (a symbolic link counts), or
    None when there is none or no directory: one listing, so loading definitions stays fast."""
    try:
        entries = list(os.scandir(landing))
    except OSError:
        return None
    return min((d for e in entries if (d := parse_day(e.name)) and e.is_dir()), default=None)


def _zone(value: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(value) is not None
    except ZoneInfoNotFoundError:
        return False


def timezone() -> str:
    """Time zone of the daily partitions and the schedule (`IDENTITY_TIMEZONE`, default UTC)."""
    allowed = "must be an IANA time zone such as UTC or Europe/Paris"
    return _checked("IDENTITY_TIMEZONE", DEFAULT_TIMEZONE, _zone, allowed)


def schedule_cron() -> str:
    """When the daily run starts, as cron (`IDENTITY_SCHEDULE_CRON`, default 03:00)."""
    # Dagster's own test of what its schedules accept (imported here: it loads Dagster)
    from dagster._utils.schedules import is_valid_cron_string

    allowed = "must be a 5-field cron expression (minute hour day month weekday), e.g. '0 3 * * *'"
    return _checked("IDENTITY_SCHEDULE_CRON", DEFAULT_SCHEDULE_CRON, is_valid_cron_string, allowed)


def duckdb_path() -> str:
    """The warehouse file (`IDENTITY_DUCKDB_PATH`)."""
    return _checked(
        "IDENTITY_DUCKDB_PATH",
        DEFAULT_DUCKDB_PATH,
        lambda v: not Path(v).expanduser().is_dir(),
        "is a directory; must name a file",
    )


def serving_dir(warehouse: str | None = None) -> str:
    """Where the serving snapshots are published (`IDENTITY_SERVING_DIR`, default `serving/`
    beside the warehouse file)."""
    return os.getenv("IDENTITY_SERVING_DIR") or str(
        Path(warehouse or duckdb_path()).parent / "serving"
    )


def landing_dir() -> str:
    """Where daily export folders land (`IDENTITY_LANDING_DIR`)."""
    return _checked(
        "IDENTITY_LANDING_DIR",
        DEFAULT_LANDING_DIR,
        lambda v: Path(v).expanduser().is_dir() or not Path(v).expanduser().exists(),
        "is a file; must be a directory",
    )


def phone_region() -> str:
    """Region for phone numbers written without a country code (`IDENTITY_PHONE_REGION`)."""
    import phonenumbers

    return _checked(
        "IDENTITY_PHONE_REGION",
        DEFAULT_PHONE_REGION,
        lambda v: v in phonenumbers.SUPPORTED_REGIONS,
        "must be a two-letter region phonenumbers supports (upper case), e.g. US, GB, FR",
    )


def duckdb_config() -> dict[str, object]:
    """DuckDB settings: `IDENTITY_DUCKDB_MEMORY_LIMIT` (e.g. 2GB) and `IDENTITY_DUCKDB_THREADS`."""
    config: dict[str, object] = {}
    if os.getenv("IDENTITY_DUCKDB_MEMORY_LIMIT"):
        config["memory_limit"] = _checked(
            "IDENTITY_DUCKDB_MEMORY_LIMIT",
            "",
            lambda v: _MEMORY.match(v.strip()),
            "must be a size: a number and KB, MB, GB, TB, KiB, MiB, GiB, TiB or %, e.g. 2GB",
        ).strip()
    if os.getenv("IDENTITY_DUCKDB_THREADS"):
        config["threads"] = integer("IDENTITY_DUCKDB_THREADS", 0)
    return config


def integer(name: str, default: int, minimum: int = 1) -> int:
    """A whole-number setting of at least `minimum`; anything else (`2.9`, `-3`) is an error."""
    value = os.getenv(name)
    if value and not (_INTEGER.match(value.strip()) and int(value) >= minimum):
        raise ConfigError(name, value, f"must be a whole number of at least {minimum}")
    return int(value) if value else default


def boolean(name: str, default: bool = False) -> bool:
    """A true/false setting; anything but true, false, 1 or 0 (`yes`, `on`) is an error."""
    value = os.getenv(name)
    if value and value.strip().lower() not in ("true", "false", "1", "0"):
        raise ConfigError(name, value, "must be true or false")
    return value.strip().lower() in ("true", "1") if value else default


def day(name: str, default: str) -> str:
    """A YYYY-MM-DD date setting, as text."""
    return _checked(name, default, date.fromisoformat, "must be a YYYY-MM-DD date")


def number(name: str, default: float, minimum: float = 0.0) -> float:
    """A number setting of at least `minimum`; anything else (`lots`, `-1`, `nan`) is an error."""
    if not os.getenv(name):
        return default
    ok = lambda v: math.isfinite(float(v)) and float(v) >= minimum  # noqa: E731 - nan fails
    return float(_checked(name, "", ok, f"must be a number of at least {minimum:g}"))


def text(name: str) -> str | None:
    """A text setting, or None when it is unset or empty."""
    return os.getenv(name) or None


def text_list(name: str) -> list[str]:
    """A comma-separated setting as a list of its non-empty items."""
    return [v for v in os.getenv(name, "").split(",") if v.strip()]


def api_url() -> str:
    """The identifier API's base URL (`IDENTITY_API_URL`): http(s), a host, no credentials.

    A user:password@ in it would be stored with the run's configuration: refused, and the
    password is not repeated in the error either.
    """
    value = os.getenv("IDENTITY_API_URL") or DEFAULT_API_URL
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ConfigError("IDENTITY_API_URL", value, "must be an http(s) URL") from None
    if parts.username is not None or parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        shown = parts._replace(netloc=f"***@{host}").geturl()
        raise ConfigError(
            "IDENTITY_API_URL",
            shown,
            "must not carry credentials (user:password@); put the token in IDENTITY_API_TOKEN",
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "IDENTITY_API_URL", value, "must be an http(s) URL with a host, e.g. https://host/api"
        )
    return value


def check_environment() -> None:
    """Read every variable once, so a value that is not allowed fails before anything runs."""
    landing_dir()
    duckdb_path()
    first_day()
    timezone()
    schedule_cron()
    phone_region()
    duckdb_config()
    api_url()
    for name in (
        "IDENTITY_MAX_LINKED_VALUES",
        "IDENTITY_MAX_IDENTITY_SIZE",
        "IDENTITY_MIN_REPEAT_BUYERS",
        "IDENTITY_REFIT_DAYS",
        "IDENTITY_API_CONCURRENCY",
    ):
        integer(name, 1)
