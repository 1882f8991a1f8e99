"""Identity resolution: normalised identifiers, a guarded graph and stable identity ids.

Each run reads only the days whose raw events changed since the last run, plus whatever a rule
change since the last run reaches (`rules`). Identifiers are normalised in SQL (phones through
a look-up table filled by `phonenumbers`, each distinct raw string parsed once, ever), the
touched identifiers get new statistics and status (the guards and hand blocks), and connected
components are recomputed over the clusters those identifiers reach, never over the whole
history. What a run needs of the history is kept folded: each identifier's statistics and the
identifier pairs seen in one event (the graph's edges and the sharing guard's measure), so a
new day reads no sightings but its own; only the few identifiers whose events decide their
identity (an alias made twice, a cluster over a limit, an identifier that starts or stops
linking) have their sightings read. Components come from scipy's sparse connected components
on integer-coded edges fetched from DuckDB through Arrow; the few clusters over a per-type
limit are then split event by event in a fixed, data-derived order. Everything else is SQL in
`sql/`.

An identity's id is derived from its first-seen identifier, so ids do not churn, the identity
first seen survives a merge, and a rebuild from the same files gives the same ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa

from identity_assets import changes, sql
from identity_assets.identity.normalise import normalise_phones
from identity_assets.identity.rules import IdentityRules

# Sightings placed by one query: at 1M events, placing 29 days one query each took twice as
# long as in batches of 5 days or all at once (12.6 s against 6.4 s), while a batch bounds the
# aggregate's memory at 10M events (about 620,000 sightings a day there).
PLACEMENT_BATCH_SIGHTINGS = 2_000_000
# Days whose sightings are read again, in batches of about this many raw events (the day's
# events go together). All 30 days of 10M events at once spilled to disk under a 3 GB memory
# limit: normalising their sightings took 30.1 s and wrote 24.6 GB of temporary files, counting
# their neighbour pairs 29.3 s and 5.4 GB; three days at a time, 11.0 s and 7.9 s, none.
SIGHTING_BATCH_EVENTS = 1_000_000

_TEMP_TABLES = (
    "changed_days",
    "sighting_days",
    "sighting_batch",
    "neighbour_changes",
    "stored_neighbours",
    "changed_neighbours",
    "run_neighbours",
    "recounted",
    "late_hash_days",
    "known_hashes",
    "touched",
    "placeholder_values",
    "counted_identifiers",
    "refreshed_identifiers",
    "affected_identifiers",
    "graph_nodes",
    "node_sightings",
    "graph_edges",
    "alias_candidates",
    "relinked",
    "moved_placements",
    "graph_components",
    "new_identity_map",
    "run_merges",
    "manual_blocks",
    "block_changes",
    "limit_changes",
    "rule_clusters",
    "rule_touched",
    "placeholder_changes",
    "sharing_change",
    "affected_clusters",
    "limited_nodes",
    "run_refusals",
    "newly_linked",
    "replaced_identities",
    "moved_identifiers",
    "placement_days",
    "placement_events",
    "new_placements",
    "old_placements",
    "placement_changes",
    "changed_identities",
    "identity_event_counts",
)


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
    rule_changes: tuple[str, ...] = ()
    limited_clusters: int = 0
    refused_links: int = 0


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the identity tables if this warehouse does not have them yet; a warehouse
    resolved before identifier_pairs existed has it counted from its sightings once."""
    had_pairs = sql.has_table(conn, "identifier_pairs")
    sql.create_tables(conn, "identity")
    sql.create_macros(conn)
    if not had_pairs:
        _count_all_pairs(conn)


def _count_all_pairs(conn: duckdb.DuckDBPyConnection) -> None:
    _start_neighbour_changes(conn)
    conn.execute(
        "create or replace temp table sighting_days as "
        "select distinct day from identifier_sightings"
    )
    _count_neighbours(conn, 1)
    conn.execute(
        "insert into identifier_pairs select identifier_type, identifier_value, "
        "other_type, other_value, sum(events) from neighbour_changes group by all"
    )
    conn.execute("drop table neighbour_changes")
    conn.execute("drop table sighting_days")


def _start_neighbour_changes(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        "create or replace temp table neighbour_changes (identifier_type varchar, "
        "identifier_value varchar, other_type varchar, other_value varchar, events bigint)"
    )


def _count_neighbours(conn: duckdb.DuckDBPyConnection, sign: int) -> None:
    """Count the neighbour pairs of the sightings of `sighting_days` into neighbour_changes,
    `sign` times: before their sightings are deleted (-1) and once they are inserted (1). A
    pair is counted within an event, so batches of days add up to the whole."""
    for _ in _sighting_batches(conn):
        conn.execute(sql.load("identity/neighbour_changes"), {"sign": sign})


def _sighting_batches(conn: duckdb.DuckDBPyConnection) -> Iterator[tuple[int, int]]:
    """Make `sighting_batch` each batch of the days of `sighting_days` in turn, so a query
    over it follows a bounded number of events rather than every day read again; yields how
    many of the days the batches have held so far, and of how many. A day left with no event
    is in a batch too: its old sightings still count until they are taken back."""
    sizes = conn.execute(
        "select d.day, count(e.day) from (select distinct day from sighting_days) as d "
        "left join raw_events as e on e.day = d.day group by d.day order by d.day"
    ).fetchall()
    batches = _day_batches(sizes, SIGHTING_BATCH_EVENTS)
    total = sum(map(len, batches))
    held = 0
    for batch in batches:
        conn.execute(
            "create or replace temp table sighting_batch as select unnest($days)::date as day",
            {"days": batch},
        )
        held += len(batch)
        yield held, total


def resolve_identities(
    conn: duckdb.DuckDBPyConnection,
    rules: IdentityRules | None = None,
    log: Callable[[str], None] | None = None,
) -> ResolveResult:
    """Bring the identity tables up to date with `raw_events` and the rules, touching only what
    changed: the days whose events changed, and what a changed rule reaches. `log` hears of
    the progress of a run that reads its days in more than one batch."""
    rules = rules or IdentityRules()
    started = time.perf_counter()
    ensure_tables(conn)
    try:
        stored = applied_rules(conn)
        previous = stored or _rules_before_limits(conn, rules)
        differences = rule_changes(previous, rules)
        landed = changes.pending(conn, "identity", "raw_events")
        changes.stage_days(conn, landed, "changed_days")
        _stage_rules(conn, rules, previous)
        if previous.phone_region != rules.phone_region or landed.first:
            conn.execute(
                "insert into changed_days select distinct day from raw_files "
                "except select day from changed_days"
            )
        if previous.placeholder_values() != rules.placeholder_values():
            conn.execute(sql.load("identity/placeholder_days"))
        changed = conn.execute("select count(*) from changed_days").fetchall()[0][0]
        if changed == 0 and not differences and stored is not None:
            if landed.any:
                with sql.transaction(conn):
                    changes.consume(conn, landed)
            return ResolveResult(0, 0, 0, 0, seconds=time.perf_counter() - started)
        with sql.transaction(conn):
            if differences or stored is None:
                _store_rules(conn, rules)
            result = _resolve_changed(conn, rules, previous, differences, changed, log)
            version = changes.new_version(conn, "event_placements")
            changes.log_days(conn, version, "select day from changed_days")
            changes.log_identities(conn, version, "select identity_id from changed_identities")
            changes.consume(conn, landed)
    finally:
        for table in _TEMP_TABLES:
            conn.execute(f"drop table if exists {table}")
    return replace(result, seconds=time.perf_counter() - started, rule_changes=tuple(differences))


def rebuild_identities(
    conn: duckdb.DuckDBPyConnection,
    rules: IdentityRules | None = None,
    log: Callable[[str], None] | None = None,
) -> ResolveResult:
    """Forget the identity stage's state and resolve all of `raw_events` from scratch."""
    ensure_tables(conn)
    for table in (
        "identifier_sightings",
        "identifiers",
        "identity_map",
        "identities",
        "identity_merges",
        "identity_refused_links",
        "event_placements",
        "identifier_pairs",
    ):
        conn.execute(f"delete from {table}")
    changes.forget(conn, "identity")
    return resolve_identities(conn, rules, log)


def applied_rules(conn: duckdb.DuckDBPyConnection) -> IdentityRules | None:
    """The rules the last run applied, or None before any run stored them."""
    stored = changes.applied_rules(conn, "identity")
    return IdentityRules.from_json(stored) if stored else None


def rule_changes(previous: IdentityRules, rules: IdentityRules) -> list[str]:
    """Each difference between the rules last applied and these, in words, for the log."""
    found = []
    if previous.phone_region != rules.phone_region:
        found.append(f"phone region {previous.phone_region} -> {rules.phone_region}")
    if previous.max_linked != rules.max_linked:
        found.append(f"sharing guard {previous.max_linked} -> {rules.max_linked} values")
    old_placeholders = previous.placeholder_values()
    new_placeholders = rules.placeholder_values()
    for value in sorted(new_placeholders - old_placeholders):
        found.append(f"placeholder added: {value!r}")
    for value in sorted(old_placeholders - new_placeholders):
        found.append(f"placeholder removed: {value!r}")
    for kind in sorted(set(previous.limits) | set(rules.limits)):
        old, new = previous.limits.get(kind), rules.limits.get(kind)
        if old != new:
            found.append(f"limit {kind} {old or 'none'} -> {new or 'none'}")
    if list(previous.priority) != list(rules.priority):
        found.append(f"priority {' > '.join(rules.priority)}")
    old_blocks = {(t, v): r for t, v, r in previous.normalised_blocks()}
    new_blocks = {(t, v): r for t, v, r in rules.normalised_blocks()}
    for (kind, value), reason in sorted(new_blocks.items()):
        if old_blocks.get((kind, value)) != reason:
            found.append(f"blocked {kind} {value} ({reason})")
    for kind, value in sorted(set(old_blocks) - set(new_blocks)):
        found.append(f"unblocked {kind} {value}")
    return found


def _rules_before_limits(conn: duckdb.DuckDBPyConnection, rules: IdentityRules) -> IdentityRules:
    """What a warehouse resolved before runs stored their rules: no limits, no hand blocks.
    An empty warehouse has nothing to re-resolve, so it counts as already under `rules`."""
    if conn.execute("select count(*) from identity_map").fetchone()[0] == 0:
        return rules
    return replace(rules, limits={}, blocks=())


def _resolve_changed(
    conn: duckdb.DuckDBPyConnection,
    rules: IdentityRules,
    previous: IdentityRules,
    differences: list[str],
    changed: int,
    log: Callable[[str], None] | None,
) -> ResolveResult:
    conn.execute(sql.load("identity/touched_before"))
    if differences:
        conn.execute(sql.load("identity/rule_touched"))
    conn.execute("create or replace temp table sighting_days as select day from changed_days")
    _start_neighbour_changes(conn)
    new_phones = _parse_new_phones(conn, rules.phone_region)
    _read_sightings_again(conn, rules.phone_region, log)
    _read_late_hash_days(conn, rules.phone_region)
    # identifiers touched so far lost sightings (a day read again) or met a changed rule: their
    # statistics are counted again from all their sightings; the changed days' others are added
    conn.execute("create or replace temp table recounted as select * from touched")
    conn.execute(sql.load("identity/add_touched"))
    if differences:
        conn.execute(sql.load("identity/rule_clusters"))
    else:
        conn.execute("create or replace temp table rule_clusters (cluster_key bigint)")
    conn.execute(sql.load("identity/affected_identifiers"))
    conn.execute(sql.load("identity/run_neighbours"))
    conn.execute(sql.load("identity/refresh_identifiers"), {"max_linked": rules.max_linked})
    conn.execute(sql.load("identity/newly_linked"))
    conn.execute(sql.load("identity/replace_identifiers"))
    conn.execute(sql.load("identity/graph_nodes"))
    components, limited = _components(conn, rules)
    conn.execute(sql.load("identity/new_identity_map"))
    causes = ["linked by events of the run"] if changed else []
    if differences:
        causes.append("rules changed: " + "; ".join(differences))
    cause = "; ".join(causes)
    conn.execute(sql.load("identity/record_merges"), {"cause": cause})
    conn.execute("insert into identity_merges by name select * from run_merges")
    merges = dict(
        conn.execute(
            "select split_part(reason, ':', 1), count(*) from run_merges group by 1 order by 1"
        ).fetchall()
    )
    conn.execute(sql.load("identity/replace_refused_links"))
    refused = conn.execute("select count(*) from run_refusals").fetchall()[0][0]
    conn.execute(sql.load("identity/replaced_identities"))
    conn.execute(sql.load("identity/replace_identity_map"))
    # a new priority can place any event elsewhere: every day is placed again
    everywhere = list(previous.priority) != list(rules.priority)
    conn.execute(
        "create or replace temp table placement_days as select day from changed_days"
        + (" union select day from identifier_sightings" if everywhere else "")
    )
    conn.execute(sql.load("identity/placement_events"))
    _place_events(conn)
    conn.execute(sql.load("identity/replace_event_placements"))
    conn.execute(sql.load("identity/moved_placements"))
    conn.execute(sql.load("identity/replace_identities"))
    conn.execute(sql.load("identity/changed_identities"))
    touched = conn.execute("select count(*) from touched").fetchall()[0][0]
    affected = conn.execute("select count(*) from affected_identifiers").fetchall()[0][0]
    return ResolveResult(
        changed_days=changed,
        touched_identifiers=touched,
        affected_identifiers=affected,
        components=components,
        merges=merges,
        new_phones=new_phones,
        limited_clusters=limited,
        refused_links=refused,
    )


def _read_sightings_again(
    conn: duckdb.DuckDBPyConnection, region: str, log: Callable[[str], None] | None = None
) -> None:
    """Replace the sightings of `sighting_days` with those their raw events give now: their
    neighbour counts come off before the old ones go, and the new ones' go on after."""
    _count_neighbours(conn, -1)
    conn.execute("delete from identifier_sightings where day in (select day from sighting_days)")
    _insert_sightings(conn, region, log)
    _count_neighbours(conn, 1)


def _insert_sightings(
    conn: duckdb.DuckDBPyConnection, region: str, log: Callable[[str], None] | None = None
) -> None:
    """Normalise the sightings of `sighting_days` into identifier_sightings, a batch of days
    at a time. They stream from raw_events into the table; only days holding a UID2 hash read
    them once more, all together, to find the plain values their hashes stand for."""
    conn.execute("set variable phone_region = ?", [region])
    conn.execute("create or replace temp table sighting_batch as select day from sighting_days")
    conn.execute(sql.load("identity/new_sightings"))
    if conn.execute("select count(*) from new_sightings where hashed").fetchall()[0][0]:
        conn.execute(sql.load("identity/known_hashes"))
    else:
        conn.execute(
            "create or replace temp table known_hashes (identifier_type varchar, "
            "uid2_hash varchar, identifier_value varchar, problem varchar)"
        )
    for number, (read, total) in enumerate(_sighting_batches(conn), start=1):
        conn.execute(sql.load("identity/insert_sightings"))
        if log and (number > 1 or read < total):
            log(f"identity: sightings of {read}/{total} day(s) read")


def _read_late_hash_days(conn: duckdb.DuckDBPyConnection, region: str) -> None:
    """Read again the earlier days holding a hash whose plain value arrived only now, so
    that hash links as the plain identifier; they join the changed days."""
    conn.execute(sql.load("identity/late_hash_days"))
    if conn.execute("select count(*) from late_hash_days").fetchall()[0][0] == 0:
        return
    conn.execute("create or replace temp table sighting_days as select day from late_hash_days")
    conn.execute(
        "insert into touched select distinct identifier_type, identifier_value "
        "from identifier_sightings where day in (select day from sighting_days) "
        "except select identifier_type, identifier_value from touched"
    )
    _read_sightings_again(conn, region)
    conn.execute("insert into changed_days select day from sighting_days")


def _place_events(conn: duckdb.DuckDBPyConnection) -> None:
    """Place the events of `placement_days` in batches of whole days, so the aggregate follows
    a bounded number of sightings rather than the history, then the events of
    `placement_events`, into `new_placements`. A batch joins its days by literal dates, which
    lets DuckDB skip the other days' row groups."""
    conn.execute(
        "create or replace temp table new_placements "
        "(event_id varchar, day date, identity_id varchar, identifier_key bigint)"
    )
    sizes = conn.execute(
        "select day, count(*) from identifier_sightings "
        "where day in (select day from placement_days) group by day order by day"
    ).fetchall()
    for batch in _day_batches(sizes, PLACEMENT_BATCH_SIGHTINGS):
        dates = ", ".join(f"date '{day.isoformat()}'" for day in batch)
        _place(conn, f"select * from identifier_sightings where day in ({dates})")
    # most days relink nothing: the rule's join would still hash the whole map for no event
    if conn.execute("select count(*) from placement_events").fetchall()[0][0]:
        _place(
            conn,
            "select s.* from identifier_sightings as s "
            "semi join placement_events as p using (event_id, day)",
        )


def _place(conn: duckdb.DuckDBPyConnection, sightings: str) -> None:
    """Run the placement rule over the sightings `sightings` selects."""
    conn.execute(f"create or replace temp view sightings_to_place as {sightings}")
    conn.execute(sql.load("identity/place_events"))
    conn.execute("drop view sightings_to_place")


def _day_batches(sizes: list[tuple[date, int]], budget: int) -> list[list[date]]:
    """Consecutive days grouped so that each group holds at most `budget` rows (a day larger
    than the budget is a group of its own)."""
    batches: list[list[date]] = []
    held = 0
    for day, count in sizes:
        if not batches or held + count > budget:
            batches.append([])
            held = 0
        batches[-1].append(day)
        held += count
    return batches


def _stage_rules(
    conn: duckdb.DuckDBPyConnection, rules: IdentityRules, previous: IdentityRules
) -> None:
    """The rules as small temp tables the SQL joins: placeholders (and those that changed),
    hand blocks (and those that changed), and per type the smaller of the old and new limit
    wherever limits or priority changed."""
    placeholders = rules.placeholder_values()
    old_placeholders = previous.placeholder_values()
    _temp_table(conn, "placeholder_values", {"value": sorted(placeholders)})
    _temp_table(conn, "placeholder_changes", {"value": sorted(placeholders ^ old_placeholders)})
    blocks = rules.normalised_blocks()
    _temp_table(
        conn,
        "manual_blocks",
        {
            "identifier_type": [b[0] for b in blocks],
            "identifier_value": [b[1] for b in blocks],
            "reason": [b[2] for b in blocks],
        },
    )
    changed_blocks = sorted(set(blocks) ^ set(previous.normalised_blocks()))
    _temp_table(
        conn,
        "block_changes",
        {
            "identifier_type": [b[0] for b in changed_blocks],
            "identifier_value": [b[1] for b in changed_blocks],
        },
    )
    limits_changed = dict(previous.limits) != dict(rules.limits) or list(previous.priority) != list(
        rules.priority
    )
    kinds = sorted(set(previous.limits) | set(rules.limits)) if limits_changed else []
    smaller = [
        min(n for n in (previous.limits.get(k), rules.limits.get(k)) if n is not None)
        for k in kinds
    ]
    _temp_table(conn, "limit_changes", {"identifier_type": kinds, "max_values": smaller})
    conn.execute(
        "create or replace temp table sharing_change as select ?::bigint as low, ?::bigint as high",
        [min(previous.max_linked, rules.max_linked), max(previous.max_linked, rules.max_linked)],
    )


def _temp_table(conn: duckdb.DuckDBPyConnection, name: str, columns: dict[str, list]) -> None:
    """A temp table of text columns; a column named in `_INTEGER_COLUMNS` holds integers.
    The types are given, not inferred, so an empty list still makes a typed column."""
    table = pa.table(
        {
            k: pa.array(v, type=pa.int64() if k in _INTEGER_COLUMNS else pa.string())
            for k, v in columns.items()
        }
    )
    sql.insert_arrow(conn, name, table, replace_temp=True)


_INTEGER_COLUMNS = frozenset({"max_values"})


def _store_rules(conn: duckdb.DuckDBPyConnection, rules: IdentityRules) -> None:
    changes.store_rules(conn, "identity", rules.to_json())
    conn.execute("delete from identifier_rules")
    conn.executemany(
        "insert into identifier_rules (identifier_type, priority, anchor_rank, max_per_identity) "
        "values (?, ?, ?, ?)",
        rules.type_rules(),
    )


def _parse_new_phones(conn: duckdb.DuckDBPyConnection, region: str) -> int:
    """Parse the raw phones never seen before with `phonenumbers` and remember the answers."""
    raw = conn.execute(sql.load("identity/new_phones"), {"region": region}).fetchnumpy()
    values = [str(v) for v in raw["raw_phone"]]
    if not values:
        return 0
    parsed = normalise_phones(values, region)
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


def _components(conn: duckdb.DuckDBPyConnection, rules: IdentityRules) -> tuple[int, int]:
    """Label each graph node with its identity, into `graph_components`, and the links limits
    refused into `run_refusals`. Returns (identities, clusters over a limit).

    Connected components give the clusters; a cluster within every limit is one identity.
    Only clusters over a limit are split, event by event in `_apply_limits`.
    """
    # scipy loads here, not with the definitions: a run with nothing to resolve never needs it
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # Types as their priority rank from 0 (int8): the graph's arrays hold no strings.
    nodes = conn.execute(
        "select n.identifier_key, (r.priority - 1)::tinyint as rank from graph_nodes as n "
        "inner join identifier_rules as r using (identifier_type) order by 1"
    ).fetchnumpy()
    keys = nodes["identifier_key"]
    ranks = nodes["rank"]
    conn.execute(sql.load("identity/graph_edges"))
    edges = conn.execute("select a, b from graph_edges where a < b").fetchnumpy()
    # 32-bit positions halve the graph's memory; a run never re-resolves 2**31 identifiers.
    a = np.searchsorted(keys, edges.pop("a")).astype(np.int32)
    b = np.searchsorted(keys, edges.pop("b")).astype(np.int32)
    size = len(keys)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size))
    count, labels = connected_components(graph, directed=False)
    # Keys are sorted, so a cluster's first node holds its smallest key, which names it.
    _, first = np.unique(labels, return_index=True)
    cluster_keys = keys[first][labels] if size else keys
    components = labels.astype(np.int64)
    over = np.zeros(count, dtype=bool)
    for rank, _, limit in rules.ranked_limits():
        over |= np.bincount(labels[ranks == rank], minlength=count) > limit
    conflicts = _alias_conflicts(conn)
    if len(conflicts):
        over[labels[np.searchsorted(keys, conflicts)]] = True
    limited = over[labels] if size else np.zeros(0, dtype=bool)
    refusals = _apply_limits(conn, keys, ranks, limited, components, cluster_keys, rules)
    identities = len(np.unique(components))
    sql.insert_arrow(
        conn,
        "graph_components",
        pa.table({"identifier_key": keys, "component": components, "cluster_key": cluster_keys}),
        replace_temp=True,
    )
    sql.insert_arrow(conn, "run_refusals", refusals, replace_temp=True)
    return identities, int(over.sum())


def _alias_conflicts(conn: duckdb.DuckDBPyConnection) -> np.ndarray:
    """The keys of anonymous ids aliased to more than one user id, read from the sightings of
    the few candidates the identifier pairs point at (none read when there are none)."""
    conn.execute(sql.load("identity/alias_candidates"))
    if conn.execute("select count(*) from alias_candidates").fetchall()[0][0] == 0:
        return np.zeros(0, dtype=np.int64)
    _read_node_sightings(conn, "alias_candidates")
    return conn.execute(sql.load("identity/alias_conflicts")).fetchnumpy()["identifier_key"]


def _read_node_sightings(conn: duckdb.DuckDBPyConnection, nodes: str) -> None:
    """The sightings of the graph nodes whose keys the temp table `nodes` holds, as
    `node_sightings`."""
    conn.execute(f"create or replace temp view wanted_nodes as select identifier_key from {nodes}")
    conn.execute(sql.load("identity/node_sightings"))
    conn.execute("drop view wanted_nodes")


_REFUSAL_SCHEMA = pa.schema(
    [
        ("refused_key", pa.int64()),
        ("kept_key", pa.int64()),
        ("rule", pa.string()),
        ("first_event_id", pa.string()),
        ("first_day", pa.date32()),
        ("events", pa.int64()),
        ("cluster_key", pa.int64()),
    ]
)


_ALIAS_ONCE = "alias only once: the anonymous_id was aliased to another user_id first"


def _apply_limits(
    conn: duckdb.DuckDBPyConnection,
    keys: np.ndarray,
    ranks: np.ndarray,
    limited: np.ndarray,
    components: np.ndarray,
    cluster_keys: np.ndarray,
    rules: IdentityRules,
) -> pa.Table:
    """Split the clusters over a limit the way Segment applies its limits, but over the whole
    history and in a fixed order, so the result follows from the data alone.

    Each event, oldest first, joins its identifiers to the identity of its highest-priority
    one (ties: the smaller value); an identifier whose identity would then hold more values of
    a type than its limit stays apart, and the refused link is recorded with its rule. Only the
    events of clusters over a limit are read, so the Python loop is over a small result.
    """
    if not limited.any():
        return _REFUSAL_SCHEMA.empty_table()
    positions = np.flatnonzero(limited).tolist()
    sql.insert_arrow(
        conn, "limited_nodes", pa.table({"identifier_key": keys[positions]}), replace_temp=True
    )
    _read_node_sightings(conn, "limited_nodes")
    values = conn.execute(
        "select identifier_value from graph_nodes "
        "where identifier_key in (select identifier_key from limited_nodes) order by identifier_key"
    ).fetchnumpy()["identifier_value"]
    events = conn.execute(sql.load("identity/limited_events")).fetchnumpy()
    event_nodes = np.searchsorted(keys, events["identifier_key"])
    order = {p: (int(ranks[p]), str(v)) for p, v in zip(positions, values, strict=True)}
    parent = {p: p for p in positions}
    held = {p: {int(ranks[p]): 1} for p in positions}
    limits = rules.ranked_limits()

    def find(p: int) -> int:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    refused: dict[tuple[int, int], list] = {}
    anonymous, user = rules.priority.index("anonymous_id"), rules.priority.index("user_id")
    aliased_to: dict[int, int] = {}
    alias_refused: list[tuple[int, int]] = []
    aliases = events["is_alias"]
    event_ids = events["event_id"]
    days = events["day"].astype("datetime64[D]").astype(object)
    starts = np.flatnonzero(np.r_[True, event_ids[1:] != event_ids[:-1]])
    ends = np.r_[starts[1:], len(event_ids)]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        members = sorted(event_nodes[start:end].tolist(), key=order.__getitem__)
        kept = members[0]
        for other in members[1:]:
            root, root_other = find(kept), find(other)
            alias_again = False
            if aliases[start] and ranks[other] == anonymous and ranks[kept] == user:
                alias_again = aliased_to.setdefault(other, kept) != kept
            if root == root_other:
                continue
            rule = None
            if alias_again:
                alias_refused.append((other, kept))
            if alias_again or any(
                {find(x), find(y)} == {root, root_other} for x, y in alias_refused
            ):
                rule = _ALIAS_ONCE
            broken = next(
                (
                    (kind, limit)
                    for rank, kind, limit in limits
                    if held[root].get(rank, 0) + held[root_other].get(rank, 0) > limit
                ),
                None,
            )
            if rule is None and broken is not None:
                rule = f"limit: at most {broken[1]} {broken[0]} per identity"
            if rule is None:
                parent[root_other] = root
                for kind, n in held.pop(root_other).items():
                    held[root][kind] = held[root].get(kind, 0) + n
                continue
            entry = refused.get((other, kept))
            if entry is None:
                refused[(other, kept)] = [rule, event_ids[start], days[start], 1]
            else:
                entry[3] += 1
    # Labels past every cluster label: the cluster's position count is at most len(keys).
    for p in parent:
        components[p] = len(keys) + find(p)
    pairs = list(refused.items())
    return pa.table(
        {
            "refused_key": [int(keys[o]) for (o, _), _ in pairs],
            "kept_key": [int(keys[k]) for (_, k), _ in pairs],
            "rule": [e[0] for _, e in pairs],
            "first_event_id": [str(e[1]) for _, e in pairs],
            "first_day": [e[2] for _, e in pairs],
            "events": [e[3] for _, e in pairs],
            "cluster_key": [int(cluster_keys[o]) for (o, _), _ in pairs],
        },
        schema=_REFUSAL_SCHEMA,
    )
