"""Journals and profiles on small hand-made exports: placement, payloads, traits, merges."""

from __future__ import annotations

import json

import duckdb

from identity_assets import sql
from identity_assets.identity.graph import resolve_identities
from identity_assets.identity.rules import IdentityRules
from identity_assets.ingest.core import ingest_day
from identity_assets.journal.build import update_journals
from identity_assets_tests.builders import (
    D1,
    D2,
    D3,
    Landing,
    identify,
    identity_of,
    land,
    track,
)


def journal_of(conn, identity_id: str) -> list[tuple]:
    return conn.execute(
        "select event_id, identity_id from identity_journal where identity_id = ? order by 1",
        [identity_id],
    ).fetchall()


def profile(conn, identity_id: str) -> dict:
    relation = conn.execute("select * from customer_profiles where identity_id = ?", [identity_id])
    names = [c[0] for c in relation.description]
    return dict(zip(names, relation.fetchall()[0], strict=True))


def check_failures(conn) -> dict[str, int]:
    """The journal stage's checks, run as their SQL: offending rows per check."""
    failures = {}
    for name in (
        "check_journal_identity_exists",
        "check_journal_covers_linked_events",
        "check_one_profile_per_identity",
    ):
        query = sql.load(f"journal/{name}")
        failures[name] = conn.execute(f"select count(*) from ({query})").fetchall()[0][0]
    return failures


def test_every_event_with_a_linked_identifier_is_placed_once(conn, landing: Landing) -> None:
    result = land(
        conn,
        landing,
        D1,
        [
            track(1, D1, userId="u-1", anonymousId="a-1"),
            track(2, D1, anonymousId="a-1"),
            track(3, D1, userId="u-2"),
            track(4, D1, userId="undefined"),  # a placeholder only: it links nobody
        ],
    )
    assert result.rows_inserted == 3
    assert result.profiles_refreshed == 2
    assert len(journal_of(conn, identity_of(conn, "user_id", "u-1"))) == 2
    assert len(journal_of(conn, identity_of(conn, "user_id", "u-2"))) == 1
    assert all(count == 0 for count in check_failures(conn).values())


def test_the_payload_is_kept_byte_for_byte(conn, landing: Landing) -> None:
    line = (
        '{"type": "track",  "userId": "u-1", "event": "Order Completed", '
        '"properties": {"value": 99.990, "z": 1E2, "a": "é"}, "timestamp": "2026-11-18T10:00:00Z"}'
    )
    land(conn, landing, D1, [line], raw=True)
    assert conn.execute("select payload from identity_journal").fetchall() == [(line,)]


def test_a_new_day_only_adds_its_rows(conn, landing: Landing) -> None:
    land(conn, landing, D1, [track(1, D1, userId="u-1"), track(2, D1, userId="u-2")])
    again = update_journals(conn)
    assert (again.changed_days, again.rows_inserted, again.profiles_refreshed) == (0, 0, 0)

    result = land(conn, landing, D2, [track(1, D2, userId="u-1")])
    assert (result.changed_days, result.rows_inserted, result.rows_removed) == (1, 1, 0)
    assert result.profiles_refreshed == 1
    assert len(journal_of(conn, identity_of(conn, "user_id", "u-1"))) == 2


def test_a_merge_moves_the_absorbed_rows_to_the_survivor(conn, landing: Landing) -> None:
    land(
        conn,
        landing,
        D1,
        [
            track(1, D1, anonymousId="a-1"),
            track(2, D1, anonymousId="a-1"),
            track(3, D1, email="ann@example.com"),
        ],
    )
    absorbed = identity_of(conn, "email", "ann@example.com")
    survivor = identity_of(conn, "anonymous_id", "a-1")
    assert absorbed != survivor

    result = land(conn, landing, D2, [track(1, D2, anonymousId="a-1", email="ann@example.com")])
    assert identity_of(conn, "email", "ann@example.com") == survivor
    assert result.rows_moved == 1
    assert journal_of(conn, absorbed) == []
    assert len(journal_of(conn, survivor)) == 4
    assert conn.execute(
        "select count(*) from customer_profiles where identity_id = ?", [absorbed]
    ).fetchall() == [(0,)]
    assert profile(conn, survivor)["event_count"] == 4
    assert all(count == 0 for count in check_failures(conn).values())


def test_a_split_sends_each_row_to_its_part_and_drops_unlinked_ones(conn, landing: Landing) -> None:
    # A device first looks like one person's; later it is seen with many user ids (a kiosk),
    # so it is blocked and the identity splits. The event placed by the device alone leaves
    # the journal; the one also carrying u-1's email is placed by the email.
    rules = IdentityRules(max_linked=2)
    land(
        conn,
        landing,
        D1,
        [
            track(1, D1, userId="u-1", device="kiosk"),
            track(2, D1, device="kiosk"),
            track(3, D1, device="kiosk", email="ann@example.com"),
        ],
        rules=rules,
    )
    before = identity_of(conn, "user_id", "u-1")
    assert len(journal_of(conn, before)) == 3

    land(
        conn,
        landing,
        D2,
        [track(n, D2, userId=f"u-{n}", device="kiosk") for n in range(2, 5)],
        rules=rules,
    )
    u1 = identity_of(conn, "user_id", "u-1")
    ann = identity_of(conn, "email", "ann@example.com")
    assert u1 != ann
    assert len(journal_of(conn, u1)) == 1
    assert len(journal_of(conn, ann)) == 1
    in_journal = {e for (e,) in conn.execute("select event_id from identity_journal").fetchall()}
    device_only = conn.execute(
        "select event_id from raw_events where payload ->> '$.messageId' = ?", [f"{D1}-2"]
    ).fetchall()[0][0]
    assert device_only not in in_journal
    assert all(count == 0 for count in check_failures(conn).values())


def test_incremental_runs_equal_one_run_over_all_days(conn, landing: Landing) -> None:
    days = {
        D1: [
            identify(1, D1, {"firstName": "Ann", "plan": "free"}, userId="u-1", anonymousId="a-1"),
            track(2, D1, anonymousId="a-2", email="bob@example.com"),
            track(3, D1, anonymousId="a-3"),
        ],
        D2: [
            identify(1, D2, {"first_name": "Annie", "plan": "pro"}, userId="u-1"),
            track(2, D2, anonymousId="a-3", email="bob@example.com"),
        ],
        D3: [track(1, D3, anonymousId="a-1", email="bob@example.com")],
    }
    for day, lines in days.items():
        land(conn, landing, day, lines)
    with duckdb.connect() as once:
        for day, lines in days.items():
            landing.write("a.jsonl", lines, day=day)
            ingest_day(once, landing.root, day)
        resolve_identities(once)
        update_journals(once)
        for table, order in (
            ("identity_journal", "event_id"),
            ("customer_profiles", "identity_id"),
        ):
            query = f"select * exclude (identifier_key) from {table} order by {order}"
            if table == "customer_profiles":
                query = f"select * from {table} order by {order}"
            assert conn.execute(query).fetchall() == once.execute(query).fetchall(), table


def test_traits_merge_camel_and_snake_case_and_the_latest_value_wins(
    conn, landing: Landing
) -> None:
    land(
        conn,
        landing,
        D1,
        [
            identify(1, D1, {"firstName": "Ann", "lastName": "Lee", "plan": "free"}, userId="u-1"),
            identify(
                2, D1, {"first_name": "Annie", "plan": "", "favouriteColour": "teal"},
                hour=11, userId="u-1",
            ),
            # earlier in the day, but received in a later file line: time decides, not order
            identify(3, D1, {"first_name": "Anna", "plan": "trial"}, hour=8, userId="u-1"),
        ],
    )  # fmt: skip
    land(
        conn,
        landing,
        D2,
        [
            {
                "endpoint": "identify",
                "received_at": f"{D2}T10:00:00Z",
                "body": {
                    "external_id": "u-1",
                    "email": " Ann@Example.com ",
                    "timezone": "Europe/Oslo",
                    "data": {"has_completed_onboarding": True, "createdAt": "2025-01-02"},
                },
            }
        ],
    )
    found = profile(conn, identity_of(conn, "user_id", "u-1"))
    assert found["first_name"] == "Annie"  # the latest non-empty value, from the snake_case key
    assert found["last_name"] == "Lee"  # kept: no later event said otherwise
    assert found["name"] == "Annie Lee"  # first and last name make the name when none is sent
    assert found["email"] == "Ann@Example.com"
    assert found["created_at"] == "2025-01-02"
    assert json.loads(found["traits"]) == {
        "favourite_colour": "teal",
        "has_completed_onboarding": True,
        "plan": "free",  # 11:00's empty value does not count; 'trial' came earlier, at 08:00
        "timezone": "Europe/Oslo",
    }
    assert json.loads(found["identifiers"]) == {
        "email": ["ann@example.com"],
        "user_id": ["u-1"],
    }
    assert found["sources"] == ["client_api", "segment"]


def test_profiles_list_every_identifier_by_type_with_click_ids(conn, landing: Landing) -> None:
    land(
        conn,
        landing,
        D1,
        [
            {
                "endpoint": "identifier",
                "received_at": f"{D1}T10:00:00Z",
                "body": {
                    "platform": "web",
                    "anonymous_id": "a-1",
                    "email": "Jane.Doe+x@gmail.com",
                    "phone": "(415) 555-0100",
                    "fbclid": "IwAR-1",
                    "valuation_properties": {"action": "pageview", "properties": {}},
                },
            }
        ],
    )
    found = profile(conn, identity_of(conn, "anonymous_id", "a-1"))
    assert json.loads(found["identifiers"]) == {
        "anonymous_id": ["a-1"],
        "email": ["janedoe@gmail.com"],
        "fbclid": ["IwAR-1"],
        "phone": ["+14155550100"],
    }
    assert found["phone"] == "(415) 555-0100"
    assert found["sources"] == ["identifier_api"]


def test_the_coverage_check_finds_a_missing_a_misplaced_and_a_doubled_row(
    conn, landing: Landing
) -> None:
    land(
        conn,
        landing,
        D1,
        [track(1, D1, userId="u-1"), track(2, D1, userId="u-2"), track(3, D1, userId="u-3")],
    )
    coverage = sql.load("journal/check_journal_covers_linked_events")
    assert conn.execute(coverage).fetchall() == []
    u1, u2, u3 = (identity_of(conn, "user_id", f"u-{n}") for n in (1, 2, 3))
    conn.execute("delete from identity_journal where identity_id = ?", [u1])
    conn.execute("update identity_journal set identity_id = ? where identity_id = ?", [u3, u2])
    conn.execute(
        "insert into identity_journal select * from identity_journal where identity_id = ?", [u3]
    )
    problems = sorted(problem for _, problem in conn.execute(coverage).fetchall())
    assert problems == [
        "in the journal 2 times",
        "in the journal 2 times",
        "in the journal without its placement (identity and identifier)",
        "in the journal without its placement (identity and identifier)",
        "missing from the journal",
    ]
