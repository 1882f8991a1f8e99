"""Configuration of the pipeline: the warehouse, the landing directory and their defaults.

Every setting has a working local default and can be changed with an `IDENTITY_*` environment
variable, read in `settings` (the names are part of the output contract and listed in the
README).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from identity_assets import compaction, settings
from identity_assets.changes import STAGES
from identity_assets.identity.rules import (
    DEFAULT_MAX_LINKED,
    DEFAULT_PLACEHOLDERS,
    IdentityRules,
    load_identity_rules,
)
from identity_assets.ingest.core import TimeWindow
from identity_assets.metrics.rules import DEFAULT_PURCHASE_RULES, ValueRules, load_purchase_rules
from identity_assets.segments.client import IdentifierClient
from identity_assets.segments.rules import (
    DEFAULT_SEGMENTS,
    SegmentRule,
    check_segments,
    load_segments,
)

# A step's connection that leaves more than this in the warehouse's WAL checkpoints it.
_CHECKPOINT_BYTES = 1 << 20


class Warehouse(DuckDBResource):
    """The DuckDB file every stage reads and writes (`IDENTITY_DUCKDB_PATH`).

    Its folder is created on first use, so a fresh clone runs without setup. Set
    `IDENTITY_DUCKDB_MEMORY_LIMIT` (e.g. `2GB`) to cap DuckDB's memory: it spills to disk
    beyond it instead of failing.
    """

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[Warehouse]:
        """In a run, keep the database open from its first step to its last: each step's
        connection then joins the open database (DuckDB shares one per file in a process)
        instead of opening the file and checkpointing it on close, which at 10M events cost
        0.2-0.4 s per step, most of what a scoped check took. Elsewhere (a sensor's tick) the
        file is opened only when asked."""
        with super().yield_for_execution(context) as warehouse:
            if context.dagster_run is None or self.database == ":memory:":
                yield warehouse
                return
            with self.get_connection():
                yield warehouse

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.database != ":memory:":
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as conn:
            # dagster-duckdb closes the connection only when the block ends without an error; a
            # failed or interrupted step closes it too, which rolls back its open transaction
            try:
                conn.execute("set enable_progress_bar = false")
                # row groups are merged by the weekly compaction, not every checkpoint
                compaction.merge_nothing(conn)
                yield conn
                self._checkpoint_large_writes(conn)
            except duckdb.InterruptException as error:
                # a stop signal that landed in a query: an interrupt, so Dagster stops the run
                # rather than failing (and retrying) one step
                raise KeyboardInterrupt from error
            finally:
                conn.close()

    def _checkpoint_large_writes(self, conn: duckdb.DuckDBPyConnection) -> None:
        """With the database kept open for a run, closing a step's connection checkpoints
        nothing: a stage that wrote much checkpoints here, in its own time, rather than in
        whichever later step's commit crosses DuckDB's threshold; a check's few rows wait."""
        wal = Path(f"{self.database}.wal")
        if self.database != ":memory:" and wal.exists() and wal.stat().st_size > _CHECKPOINT_BYTES:
            conn.execute("checkpoint")


class LandingDirectory(dg.ConfigurableResource):
    """Where daily export folders land: `<path>/<YYYY-MM-DD>/<file>.jsonl[.gz]`."""

    path: str = Field(description="landing directory; relative paths are taken from the cwd")
    earliest_event: str = Field(
        default="2000-01-01",
        description="an event dated before this (ISO date or time, UTC) is rejected",
    )
    max_clock_skew_hours: int = Field(
        default=24,
        description="an event dated later than the end of its landing day plus this is rejected",
    )

    @property
    def root(self) -> Path:
        return Path(self.path).expanduser().resolve()

    def window(self) -> TimeWindow:
        """When a landed event may have happened (`implausible_time` rejects the rest)."""
        return TimeWindow(
            earliest=datetime.fromisoformat(self.earliest_event).replace(tzinfo=None),
            max_skew=timedelta(hours=self.max_clock_skew_hours),
        )


class IdentityRulesResource(dg.ConfigurableResource):
    """How identifiers link: the phone region, placeholder values and the sharing guards."""

    phone_region: str = Field(default="US", description="region for phones without +country")
    max_linked_values: int = Field(
        default=DEFAULT_MAX_LINKED,
        description="an identifier seen with more distinct values of one strong type is shared",
    )
    max_identity_size: int = Field(
        default=50, description="an identity with more identifiers fails a blocking check"
    )
    extra_placeholders: list[str] = Field(
        default=[], description="values that never link, on top of the built-in list"
    )
    rules_file: str | None = Field(
        default=None,
        description=(
            "JSON file (IDENTITY_RULES) of per-type limits, priority, hand blocks with reasons, "
            "extra placeholders and the sharing guard; see the README"
        ),
    )

    def rules(self) -> IdentityRules:
        base = IdentityRules(
            placeholders=(*DEFAULT_PLACEHOLDERS, *self.extra_placeholders),
            max_linked=self.max_linked_values,
            phone_region=self.phone_region,
        )
        return load_identity_rules(self.rules_file, base) if self.rules_file else base


class ValueRulesResource(dg.ConfigurableResource):
    """What counts as a purchase and how far ahead value is predicted."""

    purchase_rules_file: str | None = Field(
        default=None,
        description="JSON file of purchase rules replacing the built-in ones (see README)",
    )
    horizon_days: int = Field(default=90, description="days ahead the value is predicted for")
    min_repeat_buyers: int = Field(
        default=20, description="fewer repeat buyers than this and a model is not fitted"
    )
    min_history_multiple: float = Field(
        default=3.0,
        description="a history shorter than this many horizons and no model predicts",
    )
    refit_days: int = Field(
        default=7, description="the value model is refitted every this many days (1: every run)"
    )
    refit_new_buyers: float = Field(
        default=0.10,
        description="and sooner, on the first day the buyers grew by this share since its fit",
    )

    def rules(self) -> ValueRules:
        purchases = (
            load_purchase_rules(self.purchase_rules_file)
            if self.purchase_rules_file
            else DEFAULT_PURCHASE_RULES
        )
        return ValueRules(
            purchases=purchases,
            horizon_days=self.horizon_days,
            min_repeat_buyers=self.min_repeat_buyers,
            min_history_multiple=self.min_history_multiple,
            refit_days=self.refit_days,
            refit_new_buyers=self.refit_new_buyers,
        )


class SegmentRulesResource(dg.ConfigurableResource):
    """Which segments exist: the built-in ones, or those of a JSON file."""

    segments_file: str | None = Field(
        default=None, description="JSON file of segments replacing the built-in ones (README)"
    )

    def segments(self) -> tuple[SegmentRule, ...]:
        if self.segments_file:
            return load_segments(self.segments_file)
        return check_segments(DEFAULT_SEGMENTS)


class IdentifierApi(dg.ConfigurableResource):
    """The identifier API segment updates are pushed to (`POST {url}/identifier`)."""

    url: str = Field(default=settings.DEFAULT_API_URL, description="base URL of the API")
    token: str | None = Field(
        default=None, description="bearer token (IDENTITY_API_TOKEN); never logged or stored"
    )
    platform: str = Field(default="identity-assets", description="`platform` of each request")
    send_hashes: bool = Field(
        default=False,
        description="send each email as its UID2 hash (`email_hash`) instead of in plain "
        "(IDENTITY_API_SEND_HASHES=true)",
    )
    timeout_seconds: float = Field(default=10.0, description="per request")
    max_attempts: int = Field(default=6, description="tries per update within one run")
    concurrency: int = Field(default=8, description="requests in flight at once")
    breaker_failures: int = Field(
        default=5,
        description="connection failures or timeouts in a row that stop delivery for this run "
        "(IDENTITY_API_BREAKER_FAILURES)",
    )

    def client(self) -> IdentifierClient:
        if not self.token:
            raise ValueError("IDENTITY_API_TOKEN is not set")
        return IdentifierClient(
            self.url,
            self.token,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            pool_size=self.concurrency,
            breaker_failures=self.breaker_failures,
        )


class FullRefresh(dg.ConfigurableResource):
    """Rebuild a stage and every stage after it from what has landed, instead of bringing them
    up to date: how a fix to a stage's code reaches history. Set `from_stage` in the
    launchpad's run config (`resources: full_refresh: config: from_stage: identity`) or with
    `identity-assets run --all --full-refresh [--from STAGE]`; empty (the default) is a
    normal incremental run."""

    from_stage: str = Field(
        default="",
        description=f"empty, or the first stage to rebuild: one of {', '.join(STAGES)}",
    )

    def includes(self, stage: str) -> bool:
        """Whether this run rebuilds `stage`."""
        if not self.from_stage:
            return False
        if self.from_stage not in STAGES:
            raise ValueError(
                f"full refresh from_stage must be one of {', '.join(STAGES)}, "
                f"got {self.from_stage!r}"
            )
        return STAGES.index(stage) >= STAGES.index(self.from_stage)


# Each resource as the environment configures it (`settings` reads and checks the variables).


def segment_rules_from_env() -> SegmentRulesResource:
    return SegmentRulesResource(segments_file=settings.text("IDENTITY_SEGMENTS"))


def identifier_api_from_env() -> IdentifierApi:
    """The identifier API as configured by the environment; the token stays an EnvVar."""
    token = dg.EnvVar("IDENTITY_API_TOKEN") if settings.text("IDENTITY_API_TOKEN") else None
    return IdentifierApi(
        url=settings.api_url(),
        token=token,
        platform=settings.text("IDENTITY_API_PLATFORM") or "identity-assets",
        send_hashes=settings.boolean("IDENTITY_API_SEND_HASHES"),
        concurrency=settings.integer("IDENTITY_API_CONCURRENCY", 8),
        breaker_failures=settings.integer("IDENTITY_API_BREAKER_FAILURES", 5),
    )


def value_rules_from_env() -> ValueRulesResource:
    return ValueRulesResource(
        purchase_rules_file=settings.text("IDENTITY_PURCHASE_RULES"),
        min_repeat_buyers=settings.integer("IDENTITY_MIN_REPEAT_BUYERS", 20),
        min_history_multiple=settings.number("IDENTITY_MIN_HISTORY_MULTIPLE", 3.0),
        refit_days=settings.integer("IDENTITY_REFIT_DAYS", 7),
        refit_new_buyers=settings.number("IDENTITY_REFIT_NEW_BUYERS", 0.10),
    )


def identity_rules_from_env() -> IdentityRulesResource:
    return IdentityRulesResource(
        phone_region=settings.phone_region(),
        max_linked_values=settings.integer("IDENTITY_MAX_LINKED_VALUES", DEFAULT_MAX_LINKED),
        max_identity_size=settings.integer("IDENTITY_MAX_IDENTITY_SIZE", 50),
        extra_placeholders=settings.text_list("IDENTITY_EXTRA_PLACEHOLDERS"),
        rules_file=settings.text("IDENTITY_RULES"),
    )


def warehouse_from_env() -> Warehouse:
    return Warehouse(database=settings.duckdb_path(), connection_config=settings.duckdb_config())


def landing_from_env() -> LandingDirectory:
    return LandingDirectory(
        path=settings.landing_dir(),
        earliest_event=settings.day("IDENTITY_EARLIEST_EVENT", "2000-01-01"),
        max_clock_skew_hours=settings.integer("IDENTITY_MAX_CLOCK_SKEW_HOURS", 24, minimum=0),
    )
