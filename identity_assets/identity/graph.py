"""Identity resolution: normalised identifiers, a guarded graph and stable identity ids.

Each run reads only the days whose raw events changed since the last run. Their identifiers
are normalised in SQL (phones through a look-up table filled by `phonenumbers`, each distinct
raw string parsed once, ever), the touched identifiers get new statistics and status (the
guards), and connected components are recomputed over the identities those identifiers reach,
never over the whole history. Components come from scipy's sparse connected components on
integer-coded edges fetched from DuckDB through Arrow; everything else is SQL in `sql/`.

An identity's id is derived from its first-seen identifier, so ids do not churn, the identity
first seen survives a merge, and a rebuild from the same files gives the same ids.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from identity_assets import sql
from identity_assets.identity.normalise import normalise_phone

DEFAULT_PLACEHOLDERS = (
    "",
    "null",
    "nil",
    "none",
    "undefined",
    "unknown",
    "n/a",
    "na",
    "-1",
    "anonymous",
    "guest",
    "test",
    "test@test.com",
    "test@example.com",
    "email@example.com",
    "noreply@example.com",
    "none@none.com",
    "no@email.com",
)
# Identifiers seen in one event with more than this many distinct values of one strong type
# (user_id, email, phone) are shared (a kiosk, a family tablet) and do not link. Measured on
# the sample generator's truth (identity_assets_tests/identity/test_truth.py): a real
# person's identifier is seen with at most 2 values of a type, the shared kiosk with 17 to 43.
DEFAULT_MAX_LINKED = 3

_TEMP_TABLES = (
    "changed_days",
    "touched",
    "placeholder_values",
    "refreshed_identifiers",
    "affected_identifiers",
    "graph_nodes",
    "graph_components",
    "new_identity_map",
    "run_merges",
)


@dataclass(frozen=True)
class IdentityRules:
    """The rules resolution obeys: placeholder values, the sharing guard, the phone region."""

    placeholders: Sequence[str] = DEFAULT_PLACEHOLDERS
    max_linked: int = DEFAULT_MAX_LINKED
    phone_region: str = "US"


@dataclass(frozen=True)
class ResolveResult:
    """What one resolution run did, for logs and materialization metadata."""

    changed_days: int
    touched_identifiers: int
    affected_identifiers: int
    components: int
    merges: dict[str, int] = field(default_factory=dict)
    new_phones: int = 0
    seconds: float = 0.0


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the identity tables if this warehouse does not have them yet."""
    conn.execute(sql.load("identity/create_tables"))


def resolve_identities(
    conn: duckdb.DuckDBPyConnection, rules: IdentityRules | None = None
) -> ResolveResult:
    """Bring the identity tables up to date with `raw_events`, touching only what changed."""
    rules = rules or IdentityRules()
    started = time.perf_counter()
    ensure_tables(conn)
    try:
        conn.execute(sql.load("identity/changed_days"))
        changed = conn.execute("select count(*) from changed_days").fetchone()[0]
        if changed == 0:
            return ResolveResult(0, 0, 0, 0, seconds=time.perf_counter() - started)
        _stage_placeholders(conn, rules.placeholders)
        with sql.transaction(conn):
            result = _resolve_changed(conn, rules, changed)
    finally:
        for table in _TEMP_TABLES:
            conn.execute(f"drop table if exists {table}")
    return replace(result, seconds=time.perf_counter() - started)


def rebuild_identities(
    conn: duckdb.DuckDBPyConnection, rules: IdentityRules | None = None
) -> ResolveResult:
    """Forget the identity stage's state and resolve all of `raw_events` from scratch."""
    ensure_tables(conn)
    for table in (
        "identifier_sightings",
        "identifiers",
        "identity_map",
        "identities",
        "identity_merges",
        "identity_days",
        "identity_changes",
    ):
        conn.execute(f"delete from {table}")
    return resolve_identities(conn, rules)


def _resolve_changed(
    conn: duckdb.DuckDBPyConnection, rules: IdentityRules, changed: int
) -> ResolveResult:
    conn.execute(sql.load("identity/touched_before"))
    conn.execute("delete from identifier_sightings where day in (select day from changed_days)")
    new_phones = _parse_new_phones(conn, rules.phone_region)
    conn.execute(sql.load("identity/insert_sightings"), {"region": rules.phone_region})
    conn.execute(sql.load("identity/add_touched"))
    conn.execute(sql.load("identity/refresh_identifiers"), {"max_linked": rules.max_linked})
    conn.execute(sql.load("identity/affected_identifiers"))
    conn.execute(sql.load("identity/replace_identifiers"))
    conn.execute(sql.load("identity/graph_nodes"))
    components = _components(conn)
    conn.execute(sql.load("identity/new_identity_map"))
    conn.execute(sql.load("identity/record_merges"))
    conn.execute(sql.load("identity/log_changes"))
    conn.execute("insert into identity_merges by name select * from run_merges")
    merges = dict(
        conn.execute(
            "select split_part(reason, ':', 1), count(*) from run_merges group by 1 order by 1"
        ).fetchall()
    )
    conn.execute(sql.load("identity/replace_identities"))
    conn.execute(sql.load("identity/mark_days"))
    touched = conn.execute("select count(*) from touched").fetchone()[0]
    affected = conn.execute("select count(*) from affected_identifiers").fetchone()[0]
    return ResolveResult(
        changed_days=changed,
        touched_identifiers=touched,
        affected_identifiers=affected,
        components=components,
        merges=merges,
        new_phones=new_phones,
    )


def _stage_placeholders(conn: duckdb.DuckDBPyConnection, placeholders: Sequence[str]) -> None:
    conn.execute("create or replace temp table placeholder_values (value varchar)")
    values = sorted({p.strip().lower() for p in placeholders})
    if values:
        conn.executemany("insert into placeholder_values values (?)", [(v,) for v in values])


def _parse_new_phones(conn: duckdb.DuckDBPyConnection, region: str) -> int:
    """Parse the raw phones never seen before with `phonenumbers` and remember the answers."""
    raw = conn.execute(sql.load("identity/new_phones"), {"region": region}).fetchnumpy()
    values = [str(v) for v in raw["raw_phone"]]
    if not values:
        return 0
    parsed = [normalise_phone(value, region) for value in values]
    parsed_phones = pa.table(
        {
            "raw_phone": values,
            "region": [region] * len(values),
            "e164": [e164 for e164, _ in parsed],
            "problem": [problem for _, problem in parsed],
        }
    )
    sql.insert_arrow(conn, "phone_numbers", parsed_phones)
    return len(values)


def _components(conn: duckdb.DuckDBPyConnection) -> int:
    """Label each graph node with its connected component, into `graph_components`."""
    keys = conn.execute("select identifier_key from graph_nodes order by 1").fetchnumpy()[
        "identifier_key"
    ]
    edges = conn.execute(sql.load("identity/graph_edges")).fetchnumpy()
    # 32-bit positions halve the graph's memory; a run never re-resolves 2**31 identifiers.
    a = np.searchsorted(keys, edges.pop("a")).astype(np.int32)
    b = np.searchsorted(keys, edges.pop("b")).astype(np.int32)
    size = len(keys)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size))
    count, labels = connected_components(graph, directed=False)
    components = pa.table({"identifier_key": keys, "component": labels.astype(np.int64)})
    sql.insert_arrow(conn, "graph_components", components, replace_temp=True)
    return int(count)
