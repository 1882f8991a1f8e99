"""Journals and profiles on small hand-made exports: placement, payloads, traits, merges."""

from __future__ import annotations

import json
from datetime import date

import pytest

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
    connect,
    identify,
    identity_of,
    land,
    track,
)

pytestmark = pytest.mark.heavy


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


def assert_equals_one_run(conn, landing: Landing, days: dict[date, list]) -> None:
    """The journal and profiles `conn` built day by day equal one run over all `days`."""
    with connect() as once:
        for day, lines in days.items():
            landing.write("a.jsonl", lines, day=day)
            ingest_day(once, landing.root, day)
        resolve_identities(once)
        update_journals(once)
        for query in (
            "select * exclude (identifier_key) from identity_journal order by event_id",
            "select * from customer_profiles order by identity_id",
            "select * from profile_traits order by identity_id, trait",
        ):
            assert conn.execute(query).fetchall() == once.execute(query).fetchall(), query


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
    assert_equals_one_run(conn, landing, days)


def clicked(n: int, day: date, fbclid: str, **body) -> dict:
    """An identifier API call from an ad click."""
    return {
        "endpoint": "identifier",
        "received_at": f"{day}T12:{n:02d}:00Z",
        "body": {"platform": "web", "fbclid": fbclid, **body},
    }


def test_a_day_is_folded_into_the_stored_profile_as_a_rebuild_would_make_it(
    conn, landing: Landing
) -> None:
    days = {
        D1: [
            identify(1, D1, {"firstName": "Ann", "lastName": "Lee", "plan": "pro"}, userId="u-1"),
            clicked(2, D1, "fb-1", external_id="u-1", email="ann@example.com", gclid="g-1"),
        ],
        D2: [
            # sent late: older than what the profile holds, so it changes no trait
            {**identify(1, D2, {"first_name": "Old", "plan": "trial"}, userId="u-1"),
             "timestamp": f"{D1}T07:00:00Z"},
            # a trait sent empty keeps its value; a newer one wins
            identify(2, D2, {"plan": None, "lastName": "", "name": "Ann Lee-Berg"}, userId="u-1"),
            clicked(3, D2, "fb-2", external_id="u-1", email="ann@example.com"),
        ],
    }  # fmt: skip
    land(conn, landing, D1, days[D1])
    result = land(conn, landing, D2, days[D2])
    assert (result.profiles_refreshed, result.profiles_rebuilt) == (1, 0)
    found = profile(conn, identity_of(conn, "user_id", "u-1"))
    assert (found["first_name"], found["last_name"], found["name"]) == (
        "Ann",
        "Lee",
        "Ann Lee-Berg",
    )
    assert json.loads(found["traits"]) == {"plan": "pro"}
    assert json.loads(found["identifiers"])["fbclid"] == ["fb-1", "fb-2"]
    assert json.loads(found["identifiers"])["gclid"] == ["g-1"]
    assert (found["event_count"], found["sources"]) == (5, ["identifier_api", "segment"])
    assert_equals_one_run(conn, landing, days)


def test_identities_that_merge_or_lose_rows_are_rebuilt_from_their_journals(
    conn, landing: Landing
) -> None:
    first = [
        identify(1, D1, {"plan": "pro"}, hour=11, anonymousId="a-1"),
        identify(2, D1, {"plan": "free", "name": "Ann"}, hour=10, userId="u-1"),
        track(3, D1, userId="u-2", anonymousId="a-2"),
        track(4, D1, anonymousId="a-2"),
    ]
    land(conn, landing, D1, first)
    merged = land(conn, landing, D2, [track(1, D2, anonymousId="a-1", userId="u-1")])
    # a whole merge: the survivor folds in the absorbed identity's stored profile
    assert (merged.profiles_refreshed, merged.profiles_rebuilt) == (2, 0)
    found = profile(conn, identity_of(conn, "user_id", "u-1"))
    assert (json.loads(found["traits"]), found["name"], found["event_count"]) == (
        {"plan": "pro"}, "Ann", 3,
    )  # fmt: skip
    # the first day delivered again without one of u-2's events: its identity loses a row
    again = land(conn, landing, D1, first[:3])
    assert again.profiles_rebuilt == 2
    assert profile(conn, identity_of(conn, "user_id", "u-2"))["event_count"] == 1
    assert_equals_one_run(
        conn, landing, {D1: first[:3], D2: [track(1, D2, anonymousId="a-1", userId="u-1")]}
    )


def test_a_whole_merge_folds_the_absorbed_profile_in_as_a_rebuild_would_make_it(
    conn, landing: Landing
) -> None:
    days = {
        D1: [
            clicked(1, D1, "fb-1", email="ann@example.com"),
            identify(2, D1, {"plan": "pro", "name": "Ann"}, userId="u-1"),
            identify(3, D1, {"plan": "free"}, hour=9, userId="u-1"),
            track(4, D1, userId="u-2"),
        ],
        # Ann's email and user id meet: one of the two identities absorbs the other whole
        D2: [clicked(1, D2, "fb-2", external_id="u-1", email="ann@example.com")],
    }
    land(conn, landing, D1, days[D1])
    merged = land(conn, landing, D2, days[D2])
    assert merged.rows_moved > 0
    assert (merged.profiles_rebuilt, merged.profiles_folded) == (0, 1)
    found = profile(conn, identity_of(conn, "email", "ann@example.com"))
    assert found["identity_id"] == identity_of(conn, "user_id", "u-1")
    assert json.loads(found["identifiers"])["fbclid"] == ["fb-1", "fb-2"]
    assert (found["event_count"], found["sources"]) == (4, ["identifier_api", "segment"])
    assert (json.loads(found["traits"]), found["name"]) == ({"plan": "pro"}, "Ann")
    assert_equals_one_run(conn, landing, days)


def test_profiles_built_before_their_traits_were_stored_are_rebuilt_once(
    conn, landing: Landing
) -> None:
    days = {
        D1: [identify(1, D1, {"plan": "pro"}, hour=11, userId="u-1")],
        D2: [identify(1, D2, {"plan": "free"}, hour=9, userId="u-1", anonymousId="a-1")],
    }
    land(conn, landing, D1, days[D1])
    # a warehouse from before profile_traits: the journal's create_tables.sql it ran lacked it
    conn.execute("drop table profile_traits")
    conn.execute("update table_definitions set digest = 'older' where stage = 'journal'")
    land(conn, landing, D2, days[D2])
    assert json.loads(profile(conn, identity_of(conn, "user_id", "u-1"))["traits"]) == {
        "plan": "free"
    }
    assert_equals_one_run(conn, landing, days)


def test_the_warehouse_keeps_no_index_and_an_older_one_drops_its_profile_index(
    conn, landing: Landing
) -> None:
    land(conn, landing, D1, [identify(1, D1, {"plan": "pro"}, hour=11, userId="u-1")])
    assert conn.execute("select index_name from duckdb_indexes()").fetchall() == []
    # a warehouse from before decision 0045 kept its profiles indexed by identity
    conn.execute("create index customer_profiles_by_identity on customer_profiles (identity_id)")
    conn.execute("update table_definitions set digest = 'older' where stage = 'journal'")
    land(conn, landing, D2, [identify(1, D2, {"plan": "free"}, hour=9, userId="u-1")])
    assert conn.execute("select index_name from duckdb_indexes()").fetchall() == []
    assert json.loads(profile(conn, identity_of(conn, "user_id", "u-1"))["traits"]) == {
        "plan": "free"
    }


def identifier_call(day: date, hour: int, **body: str) -> dict:
    return {
        "endpoint": "identifier",
        "received_at": f"{day}T{hour:02d}:00:00Z",
        "body": {
            "platform": "web",
            **body,
            "valuation_properties": {"action": "pageview", "properties": {}},
        },
    }


def test_click_ids_of_a_journal_from_before_they_were_kept_are_read_once(
    conn, landing: Landing
) -> None:
    days = {
        D1: [
            identifier_call(D1, 10, anonymous_id="a-1", fbclid="IwAR-1"),
            identifier_call(D1, 11, anonymous_id="a-2", email="ann@example.com"),
        ],
        # links a-1 to a-2: the survivor's profile is rebuilt from its journal, D1's rows too
        D2: [identifier_call(D2, 9, anonymous_id="a-1", email="ann@example.com")],
    }
    land(conn, landing, D1, days[D1])
    # a warehouse from before journal_click_ids: the journal's create_tables.sql it ran lacked it
    conn.execute("drop table journal_click_ids")
    conn.execute("update table_definitions set digest = 'older' where stage = 'journal'")
    land(conn, landing, D2, days[D2])
    found = profile(conn, identity_of(conn, "anonymous_id", "a-2"))
    assert json.loads(found["identifiers"])["fbclid"] == ["IwAR-1"]
    assert found["event_count"] == 3
    assert_equals_one_run(conn, landing, days)


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


def test_the_coverage_check_finds_an_event_placed_twice_under_two_identities(
    conn, landing: Landing
) -> None:
    land(conn, landing, D1, [track(1, D1, userId="u-1"), track(2, D1, userId="u-2")])
    coverage = sql.load("journal/check_journal_covers_linked_events")
    u1, u2 = (identity_of(conn, "user_id", f"u-{n}") for n in (1, 2))
    conn.execute(
        "insert into event_placements select * replace ($other as identity_id) "
        "from event_placements where identity_id = $one",
        {"one": u1, "other": u2},
    )
    problems = [problem for _, problem in conn.execute(coverage).fetchall()]
    assert problems == ["in the journal without its placement (identity and identifier)"]
