"""Identity resolution scored against the sample generator's ground truth."""

from __future__ import annotations

import collections
from datetime import date
from pathlib import Path

import duckdb
import pytest

from identity_assets import sql
from identity_assets.identity.graph import rebuild_identities, resolve_identities
from identity_assets.identity.rules import DEFAULT_MAX_LINKED
from identity_assets.ingest.core import ingest_day, landed_days
from identity_assets.sample import SampleConfig, write_sample
from identity_assets_tests.builders import connect
from identity_assets_tests.identity.union_find import UnionFind


@pytest.fixture(scope="module")
def resolved(tmp_path_factory) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """The small sample ingested and resolved day by day, as daily runs would."""
    landing = tmp_path_factory.mktemp("truth") / "landing"
    write_sample(landing, SampleConfig(people=400, days=5, history_days=90))
    conn = connect()
    for day in landed_days(landing, date(2024, 1, 1)):
        ingest_day(conn, landing, day)
        resolve_identities(conn)
    conn.execute(
        "create table truth as select * from read_csv($path)",
        {"path": str(landing / "_truth" / "identifiers.csv")},
    )
    return conn, landing


@pytest.mark.heavy
def test_pairwise_precision_against_the_truth_is_at_least_099(resolved) -> None:
    conn, _ = resolved
    unmapped, precision, _ = conn.execute(sql.load("identity/score_against_truth")).fetchall()[0]
    assert unmapped == 0
    assert precision >= 0.99


def test_recall_of_every_deterministically_linkable_pair_is_at_least_099(resolved) -> None:
    """Identifiers of one person that never share an event cannot be linked by any exact rule;
    the reference is a union-find over the truth's own identifiers, event by event."""
    conn, _ = resolved
    owner = {
        (kind, value): person
        for person, kind, value in conn.execute(
            "select person_id, identifier_type, normalized_value from truth"
        ).fetchall()
    }
    reference = UnionFind()
    by_event = collections.defaultdict(list)
    for event, kind, value in conn.execute(
        "select event_id, identifier_type, identifier_value from identifier_sightings"
    ).fetchall():
        if (kind, value) in owner:
            by_event[event].append((kind, value))
    for items in by_event.values():
        reference.union_all(items)
    ours = {
        (kind, value): identity
        for kind, value, identity in conn.execute(
            "select identifier_type, identifier_value, identity_id from identity_map"
        ).fetchall()
    }

    def pairs(counter):
        return sum(n * (n - 1) // 2 for n in counter.values())

    linkable = pairs(collections.Counter((owner[k], reference.find(k)) for k in owner))
    found = pairs(
        collections.Counter((owner[k], reference.find(k), ours.get(k)) for k in owner if k in ours)
    )
    assert linkable > 100
    assert found / linkable >= 0.99


def test_the_guard_default_sits_between_real_people_and_the_shared_kiosk(resolved) -> None:
    conn, _ = resolved
    widest = dict(
        conn.execute(
            """
            with n as (
                select m.identifier_type, m.identifier_value, o.identifier_type as other_type,
                    count(distinct o.identifier_value) as seen
                from identifier_sightings as m
                inner join identifier_sightings as o
                    on o.event_id = m.event_id and o.problem is null
                    and o.identifier_type in ('user_id', 'email', 'phone')
                    and not (o.identifier_type = m.identifier_type
                        and o.identifier_value = m.identifier_value)
                where m.problem is null
                group by all
            )
            select coalesce(s.identifier_type is not null, false) as shared, max(n.seen)
            from n
            left join (
                select identifier_type, value as identifier_value from read_csv($shared)
            ) as s using (identifier_type, identifier_value)
            group by 1
            """,
            {"shared": str(resolved[1] / "_truth" / "shared.csv")},
        ).fetchall()
    )
    assert widest[False] <= DEFAULT_MAX_LINKED < widest[True]


def test_day_by_day_runs_equal_one_rebuild(resolved) -> None:
    conn, _ = resolved
    query = "select identifier_type, identifier_value, identity_id from identity_map"
    daily = set(conn.execute(query).fetchall())
    fresh = conn.cursor()
    fresh.execute("create schema rebuilt")
    fresh.execute("use rebuilt")
    fresh.execute("create table raw_events as select * from memory.main.raw_events")
    fresh.execute("create table raw_files as select * from memory.main.raw_files")
    rebuild_identities(fresh)
    assert set(fresh.execute(query).fetchall()) == daily
