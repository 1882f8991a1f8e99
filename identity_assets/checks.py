"""The shape every asset check here shares: one query that returns the offending rows.

A blocking check verifies what changed since it last passed (decision 0016): the days and
identities its producer logged in the change protocol (`changes`) after the version the check
last verified. Its query says which rows that reaches through two macros, `changed_day(day)`
and `changed_identity(identity_id)`. When there is no such version to start from (its first
run), its parameters changed, its producer rewrote the whole table, or the run is a sweep
(tagged `CHECK_SCOPE_TAG: everything`), both macros are `true` and the query is the
whole-table check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa

from identity_assets import changes, sql
from identity_assets.metadata import preview
from identity_assets.resources import Warehouse

SHOWN_ROWS = 20


# A run tagged with this set to `everything` (the full check sweep) verifies whole tables.
CHECK_SCOPE_TAG = "identity_assets/check_scope"
EVERYTHING = "everything"


# The identities a producer's changed days reach, besides those it logged: for the identity
# stage, every identity holding an identifier seen that day (its summary, map rows and
# placements may differ; the day's distinct identifiers are joined to the map, which hashes
# them rather than the whole map: 0.19-0.28 -> 0.10 s at 10M events); for the journal, every
# identity with a row that day.
_DAY_IDENTITIES = {
    "event_placements": (
        "select m.identity_id from (select distinct identifier_type, identifier_value "
        "from identifier_sightings where day in (select day from check_days)) "
        "inner join identity_map as m using (identifier_type, identifier_value)"
    ),
    "identity_journal": (
        "select identity_id from identity_journal where day in (select day from check_days)"
    ),
}


# The identities the changed days reached, for the last warehouse and range of versions asked.
_REACHED: dict[tuple[str, str, int, int], pa.Table] = {}


@dataclass(frozen=True)
class Scope:
    """What one run of a scoped check verifies."""

    check: str
    producer: str
    through: int
    fingerprint: str
    everything: bool
    reason: str
    days: int = 0
    identities: int = 0


# Entered around a scoped check's query with its connection and scope; yields the query's name.
Prepare = Callable[[duckdb.DuckDBPyConnection, Scope], AbstractContextManager[str]]


@dataclass(frozen=True)
class RowCheck:
    """One check on `asset`: the rows of `query` (an SQL file's name) are its failures, each
    a `what` (formatted with the query's parameters, which `params` makes from the step's
    resources). With a `producer`, it verifies what that producer changed since it last
    passed (`changed_rows_check`, with `rules_of` and `reach`); without, the whole table. A
    blocking check fails with an error, the others warn."""

    asset: str
    query: str
    what: str
    description: str
    blocking: bool = True
    producer: str | None = None
    rules_of: str | None = None
    reach: bool = True
    params: Callable[[Any], dict[str, object]] | None = None


def stage_checks(
    name: str, checks: dict[str, RowCheck], resource_keys: frozenset[str] = frozenset()
) -> dg.AssetChecksDefinition:
    """A stage's checks, declared as data, as one step after the step that writes their
    tables (decision 0044). Each keeps its own name, asset, blocking, progress and result, and
    a run that selects some runs only those."""

    @dg.multi_asset_check(
        name=name,
        specs=[
            dg.AssetCheckSpec(
                check_name,
                asset=check.asset,
                blocking=check.blocking,
                description=check.description,
            )
            for check_name, check in checks.items()
        ],
        can_subset=True,
        required_resource_keys={"warehouse", *resource_keys},
    )
    def _checks(context) -> Iterator[dg.AssetCheckResult]:  # an AssetCheckExecutionContext
        warehouse = context.resources.warehouse
        for check_name, check in checks.items():
            key = dg.AssetCheckKey(dg.AssetKey(check.asset), check_name)
            if key not in context.selected_asset_check_keys:
                continue
            params = check.params(context.resources) if check.params else None
            what = check.what.format(**params) if params else check.what
            if check.producer:
                result = changed_rows_check(
                    context, warehouse, check.producer, check.query, what, params,
                    rules_of=check.rules_of, check=check_name, reach=check.reach,
                )  # fmt: skip
            else:
                severity = (
                    dg.AssetCheckSeverity.ERROR if check.blocking else dg.AssetCheckSeverity.WARN
                )
                with warehouse.get_connection() as conn:
                    failing = _failing_rows(conn, check.query, params or {})
                result = _result(*failing, what, severity)
            yield named(result, check_name, check.asset)

    return _checks


def named(
    result: dg.AssetCheckResult, check_name: str, asset: str | None = None, **metadata: object
) -> dg.AssetCheckResult:
    """`result` as `check_name`'s, for a step that runs several checks, with `metadata` added."""
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset,
        passed=result.passed,
        severity=result.severity,
        description=result.description,
        metadata={**result.metadata, **metadata},
    )


def changed_rows_check(
    context: dg.AssetCheckExecutionContext,
    warehouse: Warehouse,
    producer: str,
    query_name: str,
    what: str,
    params: dict[str, object] | None = None,
    rules_of: str | None = None,
    prepare: Prepare | None = None,
    subject: str | None = None,
    check: str | None = None,
    reach: bool = True,
) -> dg.AssetCheckResult:
    """A blocking check of the rows `producer` changed since the check last passed.

    `params` and, with `rules_of`, the rules that stage's data was built under make the
    check's fingerprint: when they differ from those it last passed under, it verifies
    everything once. A pass records how far it verified, so the next run starts after it.
    `prepare`, given the connection and the scope, is entered around the query: it registers
    what the query reads besides the warehouse and may name another query for that scope.
    `subject` names what is checked when it is not the warehouse (a snapshot file): another one
    is verified whole once, as new parameters are. `check` names the check when the step runs
    several (a multi-asset check); by default, the step's only one. `reach=False` leaves out
    the identities the changed days reached: for a check whose rows on other days change only
    with the identities the producer logged.
    """
    params = params or {}
    check = check or context.check_specs[0].name
    everything = context.run.tags.get(CHECK_SCOPE_TAG) == EVERYTHING
    with warehouse.get_connection() as conn:
        rules = changes.applied_rules(conn, rules_of) if rules_of else None
        fingerprint = json.dumps(
            {"params": params, "rules": rules, **({"subject": subject} if subject else {})},
            sort_keys=True,
            default=str,
        )
        scope = stage_scope(conn, check, producer, fingerprint, everything, reach)
        try:
            with prepare(conn, scope) if prepare else nullcontext(query_name) as query:
                failing, shown = _failing_rows(conn, query, params)
        finally:
            conn.execute("drop table if exists check_days")
            conn.execute("drop table if exists check_identities")
        if failing == 0:
            changes.record_check(conn, check, producer, scope.through, fingerprint)
    result = _result(failing, shown, what, dg.AssetCheckSeverity.ERROR)
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=result.severity,
        description=result.description,
        metadata={
            **result.metadata,
            "scope": scope.reason,
            "scope_days": scope.days,
            "scope_identities": scope.identities,
            f"{producer}_version": scope.through,
        },
    )


def stage_scope(
    conn: duckdb.DuckDBPyConnection,
    check: str,
    producer: str,
    fingerprint: str,
    everything: bool = False,
    reach: bool = True,
) -> Scope:
    """Define `changed_day` and `changed_identity` on `conn` for one run of `check`, staging
    the days and identities they accept in temp tables `check_days` and `check_identities`."""
    through = changes.latest_version(conn, producer)
    progress = changes.check_progress(conn, check)
    since = progress.version if progress else 0
    pending = changes.Pending(check, producer, since, through)
    reason = ""
    if everything:
        reason = "everything: a full sweep"
    elif progress is None:
        reason = "everything: the check's first pass"
    elif progress.fingerprint != fingerprint:
        reason = "everything: its parameters or its stage's rules changed"
    elif through < since:
        reason = "everything: its producer's versions went back"
    elif changes.unlogged_versions(conn, pending):
        reason = f"everything: {producer} rewrote the whole table"
    if reason:
        scope_everything(conn)
        return Scope(check, producer, through, fingerprint, True, reason)
    changes.stage_days(conn, pending, "check_days")
    changes.stage_identities(conn, pending, "check_identities")
    if reach and producer in _DAY_IDENTITIES:
        with sql.registered(conn, "reached_identities", _day_identities(conn, pending)):
            conn.execute(
                "insert into check_identities select identity_id from reached_identities "
                "except select identity_id from check_identities"
            )
    conn.execute("create or replace temp macro changed_day(x) as x in (select day from check_days)")
    conn.execute(
        "create or replace temp macro changed_identity(x) as "
        "x in (select identity_id from check_identities)"
    )
    days, identities = conn.execute(
        "select (select count(*) from check_days), (select count(*) from check_identities)"
    ).fetchall()[0]
    return Scope(
        check,
        producer,
        through,
        fingerprint,
        False,
        f"changes of {producer} versions {since + 1}..{through}" if through > since else "none",
        days,
        identities,
    )


def _day_identities(conn: duckdb.DuckDBPyConnection, pending: changes.Pending) -> pa.Table:
    """The identities `pending`'s changed days (staged in `check_days`) reach. The checks of one
    producer in a run reach the same ones and the query reads whole tables: it runs once per
    warehouse and range of versions (a producer that writes takes a new version)."""
    (database,) = conn.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0]
    key = (database, pending.upstream, pending.since, pending.through)
    if key not in _REACHED:
        _REACHED.clear()
        query = _DAY_IDENTITIES[pending.upstream]
        _REACHED[key] = conn.sql(f"select distinct identity_id from ({query})").to_arrow_table()
    return _REACHED[key]


def scope_everything(conn: duckdb.DuckDBPyConnection) -> None:
    """Make `changed_day` and `changed_identity` accept every row on `conn`: a check's query
    then verifies whole tables. `check_days` and `check_identities` are left empty: every day
    is a changed day, so a query reading them for rows on other days reads none."""
    for macro in ("changed_day", "changed_identity"):
        conn.execute(f"create or replace temp macro {macro}(x) as true")
    conn.execute("create or replace temp table check_days (day date)")
    conn.execute("create or replace temp table check_identities (identity_id varchar)")


def _failing_rows(
    conn: duckdb.DuckDBPyConnection, query_name: str, params: dict[str, object]
) -> tuple[int, dg.MetadataValue | None]:
    query = sql.load(query_name)
    failing = conn.execute(f"select count(*) from ({query})", params).fetchall()[0][0]
    shown = preview(conn, f"{query} limit {SHOWN_ROWS}", params) if failing else None
    return failing, shown


def _result(
    failing: int, shown: dg.MetadataValue | None, what: str, severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    metadata: dict[str, object] = {"failing_rows": failing, "expected_failing_rows": 0}
    if shown is not None:
        metadata["first_failing_rows"] = shown
    return dg.AssetCheckResult(
        passed=failing == 0,
        severity=severity,
        metadata=metadata,
        description=f"{failing:,} {what}" if failing else None,
    )
