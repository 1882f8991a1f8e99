"""Identity resolution on small hand-made exports: normalisation, guards, history, stability."""

from __future__ import annotations

import random
from datetime import date

import pytest

from identity_assets import sql
from identity_assets.identity import graph
from identity_assets.identity.graph import rebuild_identities, resolve_identities
from identity_assets.identity.normalise import normalise_phone, normalise_phones
from identity_assets.identity.rules import IdentityRules
from identity_assets.ingest.core import ingest_day
from identity_assets_tests.builders import (
    D1,
    D2,
    D3,
    identity_of,
    land_and_resolve,
    partition,
    status_of,
    track,
)
from identity_assets_tests.identity.union_find import UnionFind

IDS = "select identifier_type, identifier_value, identity_id from identity_map"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        (" Cool.Person@Example.com ", "cool.person@example.com"),
        ("Jane.Doe+promo@Gmail.com", "janedoe@gmail.com"),
        ("j.a.n.e.doe@gmail.com", "janedoe@gmail.com"),
        ("jane+tag@example.com", "jane+tag@example.com"),
    ],
)
def test_emails_follow_the_uid2_rules(conn, landing, raw, normalised) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", email=raw)])
    assert identity_of(conn, "email", normalised) == identity_of(conn, "user_id", "u-1")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+14155550100", "+14155550100"),
        ("(415) 555-0100", "+14155550100"),
        ("415.555.0100", "+14155550100"),
        ("1-415-555-0100", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_become_e164(conn, landing, raw, e164) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", phone=raw)])
    assert identity_of(conn, "phone", e164) == identity_of(conn, "user_id", "u-1")


def test_phone_region_applies_to_numbers_without_a_country_code() -> None:
    assert normalise_phone("020 7946 0958", "GB") == ("+442079460958", None)
    assert normalise_phone("call me", "US") == (None, "unparseable")


def test_many_phones_parse_in_workers_in_their_order() -> None:
    values = [f"(415) 555-{n:04d}" for n in range(200)] + ["call me", "+44 20 7946 0958", "12"]
    random.Random(3).shuffle(values)
    expected = [normalise_phone(value, "US") for value in values]
    assert normalise_phones(values, "US", parallel_from=1) == expected
    assert normalise_phones(values, "US") == expected


def test_each_distinct_raw_phone_is_parsed_once(conn, landing) -> None:
    phone = "(415) 555-0100"
    first = land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", phone=phone)])
    second = land_and_resolve(conn, landing, D2, [track(2, D2, userId="u-2", phone=phone)])
    assert (first.new_phones, second.new_phones) == (1, 0)
    assert conn.execute("select count(*) from phone_numbers").fetchall() == [(1,)]


def test_ids_are_trimmed_and_keep_their_case(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="  AbC-1 ", anonymousId="a-1")])
    assert identity_of(conn, "user_id", "AbC-1") == identity_of(conn, "anonymous_id", "a-1")


@pytest.mark.parametrize(
    ("kind", "field", "value", "reason"),
    [
        ("anonymous_id", "anonymousId", "undefined", "placeholder"),
        ("anonymous_id", "anonymousId", "null", "placeholder"),
        ("device_id", "device", "00000000-0000-0000-0000-000000000000", "placeholder"),
        ("email", "email", "test@test.com", "placeholder"),
        ("email", "email", "not-an-email", "invalid_email"),
        ("phone", "phone", "12345", "invalid_phone"),
    ],
)
def test_junk_identifiers_are_blocked_and_link_nobody(conn, landing, kind, field, value, reason):
    events = [
        track(1, D1, userId="u-1", **{field: value}),
        track(2, D1, userId="u-2", **{field: value}),
    ]
    land_and_resolve(conn, landing, D1, events)
    assert status_of(conn, kind, value) == ("blocked", reason)
    assert identity_of(conn, "user_id", "u-1") != identity_of(conn, "user_id", "u-2")
    assert identity_of(conn, kind, value) is None


def test_configured_placeholders_are_blocked_too(conn, landing) -> None:
    rules = IdentityRules(placeholders=("guest-device",))
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", device="Guest-Device")], rules)
    assert status_of(conn, "device_id", "Guest-Device") == ("blocked", "placeholder")


def test_click_ids_are_recorded_but_do_not_link(conn, landing) -> None:
    call = {
        "endpoint": "identifier",
        "body": {"platform": "web", "anonymous_id": "a-1", "fbclid": "fb-1"},
    }
    other = {**call, "body": {**call["body"], "anonymous_id": "a-2"}}
    land_and_resolve(conn, landing, D1, [call, other])
    assert status_of(conn, "fbclid", "fb-1") == ("blocked", "click_id")
    assert identity_of(conn, "anonymous_id", "a-1") != identity_of(conn, "anonymous_id", "a-2")


def test_a_shared_device_is_blocked_and_merges_no_strangers(conn, landing) -> None:
    events = [track(n, D1, userId=f"u-{n}", device="kiosk-1") for n in range(5)]
    land_and_resolve(conn, landing, D1, events)
    assert status_of(conn, "device_id", "kiosk-1") == (
        "blocked",
        "shared: seen with 5 user_id values",
    )
    assert len({identity_of(conn, "user_id", f"u-{n}") for n in range(5)}) == 5


def test_a_device_shared_as_widely_by_two_types_names_the_greatest(conn, landing) -> None:
    events = [
        track(n, D1, userId=f"u-{n}", email=f"p{n}@example.com", device="kiosk-2") for n in range(5)
    ]
    land_and_resolve(conn, landing, D1, events)
    assert status_of(conn, "device_id", "kiosk-2") == (
        "blocked",
        "shared: seen with 5 user_id values",
    )


def test_a_person_with_two_emails_is_not_split_by_the_guard(conn, landing) -> None:
    events = [
        track(1, D1, userId="u-1", email="home@example.com"),
        track(2, D1, userId="u-1", email="work@example.com"),
    ]
    land_and_resolve(conn, landing, D1, events)
    assert status_of(conn, "user_id", "u-1") == ("linked", None)
    assert identity_of(conn, "email", "home@example.com") == identity_of(
        conn, "email", "work@example.com"
    )


def test_an_alias_links_the_anonymous_visitor_to_the_user(conn, landing) -> None:
    events = [
        track(1, D1, anonymousId="a-77"),
        track(2, D1, userId="u-42", email="x@example.com"),
        {"type": "alias", "messageId": "al-1", "previousId": "a-77", "userId": "u-42"},
        {"endpoint": "alias", "body": {"anonymous_id": "a-88", "external_id": "u-42"}},
    ]
    land_and_resolve(conn, landing, D1, events)
    ids = {
        identity_of(conn, k, v)
        for k, v in [
            ("anonymous_id", "a-77"),
            ("user_id", "u-42"),
            ("email", "x@example.com"),
            ("anonymous_id", "a-88"),
        ]
    }
    assert len(ids) == 1 and None not in ids


def test_a_merge_keeps_the_first_seen_identity_and_is_recorded(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, anonymousId="a-1", email="e@example.com")])
    land_and_resolve(conn, landing, D2, [track(1, D2, userId="u-1")])
    first, second = identity_of(conn, "anonymous_id", "a-1"), identity_of(conn, "user_id", "u-1")
    assert first != second

    result = land_and_resolve(conn, landing, D3, [track(1, D3, userId="u-1", anonymousId="a-1")])
    assert identity_of(conn, "user_id", "u-1") == first
    assert result.merges == {"merge": 1}
    assert conn.execute(
        "select identity_id, absorbed_identity_id, day from identity_merges"
    ).fetchall() == [(first, second, D3)]
    assert conn.execute(
        "select count(*) from identities where identity_id = ?", [second]
    ).fetchall() == [(0,)]
    # later stages learn which identities moved, in the merging run: the absorbed one and the
    # one that took in its identifiers
    assert set(logged_identities(conn)) == {first, second}


def logged_identities(conn) -> list[str]:
    """The identities the identity stage logged as changed outside their changed days."""
    return [
        row[0]
        for row in conn.execute(
            "select distinct c.identity_id from change_identities as c "
            "inner join change_versions as v using (version) "
            "where v.producer = 'event_placements' order by 1"
        ).fetchall()
    ]


def test_an_identity_that_only_grows_is_not_logged_as_changed(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1")])
    land_and_resolve(conn, landing, D2, [track(1, D2, userId="u-1", email="e@example.com")])
    assert logged_identities(conn) == []
    # the days it was seen on are logged: their rows are placed again whole
    assert conn.execute("select distinct day from change_days order by day").fetchall() == [
        (D1,),
        (D2,),
    ]


def test_a_newly_shared_device_splits_its_identity_and_the_split_is_recorded(conn, landing) -> None:
    land_and_resolve(
        conn,
        landing,
        D1,
        [
            track(1, D1, userId="u-1", device="tablet"),
            track(2, D1, anonymousId="a-9", device="tablet"),
        ],
    )
    before = identity_of(conn, "user_id", "u-1")
    assert identity_of(conn, "anonymous_id", "a-9") == before

    land_and_resolve(
        conn, landing, D2, [track(n, D2, userId=f"u-{n}", device="tablet") for n in (2, 3, 4)]
    )
    assert status_of(conn, "device_id", "tablet")[0] == "blocked"
    assert identity_of(conn, "user_id", "u-1") == before
    split_off = identity_of(conn, "anonymous_id", "a-9")
    assert split_off != before
    (reason,) = conn.execute(
        "select reason from identity_merges where identity_id = ? and absorbed_identity_id = ?",
        [before, split_off],
    ).fetchall()[0]
    assert reason.startswith("split: blocked device_id tablet (shared")
    assert before in logged_identities(conn)


def test_ids_stay_put_when_a_late_file_adds_to_an_identity(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", anonymousId="a-1")])
    land_and_resolve(conn, landing, D2, [track(1, D2, userId="u-2")])
    before = dict(conn.execute("select identifier_value, identity_id from identity_map").fetchall())
    landing.write("late.jsonl", [track(9, D1, userId="u-1", email="late@example.com")], day=D1)
    ingest_day(conn, landing.root, D1)
    result = resolve_identities(conn)

    after = dict(conn.execute("select identifier_value, identity_id from identity_map").fetchall())
    assert {k: after[k] for k in before} == before
    assert after["late@example.com"] == before["u-1"]
    assert result.changed_days == 1 and result.affected_identifiers == 3


def test_a_day_that_did_not_change_is_not_read_again(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1")])
    assert resolve_identities(conn).changed_days == 0


@pytest.mark.heavy
def test_incremental_days_equal_a_rebuild_and_touch_only_what_they_reach(conn, landing) -> None:
    rng = random.Random(3)
    days = [D1, D2, D3]
    results = []
    for day in days:
        events = [
            track(i, day, userId=f"u-{rng.randrange(40)}", anonymousId=f"a-{rng.randrange(60)}")
            for i in range(25)
        ]
        results.append(land_and_resolve(conn, landing, day, events))
    incremental = (partition(conn), set(conn.execute(IDS).fetchall()))

    rebuild_identities(conn)
    assert (
        partition(conn),
        set(conn.execute(IDS).fetchall()),
    ) == incremental
    total = conn.execute("select count(*) from identifiers").fetchall()[0][0]
    assert results[-1].affected_identifiers < total


def test_days_are_placed_in_batches_bounded_by_sightings() -> None:
    sizes = [(D1, 3), (D2, 4), (D3, 9), (date(2026, 1, 4), 1)]
    assert graph._day_batches(sizes, 8) == [[D1, D2], [D3], [date(2026, 1, 4)]]
    assert graph._day_batches(sizes, 100) == [[D1, D2, D3, date(2026, 1, 4)]]
    assert graph._day_batches([(D1, 0), (D2, 9)], 8) == [[D1], [D2]]


@pytest.mark.heavy
def test_placements_do_not_depend_on_the_batch_size(conn, landing, monkeypatch) -> None:
    rng = random.Random(5)
    placed = "select * from event_placements order by event_id, day"
    for day in (D1, D2, D3):
        events = [
            track(i, day, userId=f"u-{rng.randrange(20)}", anonymousId=f"a-{rng.randrange(30)}")
            for i in range(20)
        ]
        land_and_resolve(conn, landing, day, events)
    rebuild_identities(conn)
    whole = conn.execute(placed).fetchall()
    monkeypatch.setattr(graph, "PLACEMENT_BATCH_SIGHTINGS", 1)
    rebuild_identities(conn)
    assert conn.execute(placed).fetchall() == whole
    assert len({row[1] for row in whole}) == 3


def test_partition_equals_a_union_find_reference_on_random_graphs(conn, landing) -> None:
    rng = random.Random(11)
    pool = [("user_id", f"u-{i}") for i in range(300)] + [
        ("anonymous_id", f"a-{i}") for i in range(600)
    ]
    fields = {"user_id": "userId", "anonymous_id": "anonymousId"}
    reference = UnionFind()

    events = []
    for n in range(700):
        user, anonymous = rng.choice(pool[:300]), rng.choice(pool[300:])
        chosen = [user, anonymous] if rng.random() < 0.6 else [rng.choice([user, anonymous])]
        events.append(track(n, D1, **{fields[k]: v for k, v in chosen}))
        reference.union_all(chosen)
    land_and_resolve(conn, landing, D1, events, IdentityRules(max_linked=10_000, limits={}))

    assert partition(conn) == reference.groups()


def test_checks_find_a_blocked_identifier_linked_and_a_double_mapping(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", anonymousId="undefined")])
    assert conn.execute(sql.load("identity/check_no_blocked_identifier_linked")).fetchall() == []
    assert conn.execute(sql.load("identity/check_one_identity_per_identifier")).fetchall() == []
    conn.execute(
        "insert into identity_map select 'anonymous_id', 'undefined', identity_id, 999, 999 "
        "from identity_map"
    )
    conn.execute("insert into identity_map select * from identity_map limit 1")
    assert (
        len(conn.execute(sql.load("identity/check_no_blocked_identifier_linked")).fetchall()) == 1
    )
    assert len(conn.execute(sql.load("identity/check_one_identity_per_identifier")).fetchall()) == 1


def test_the_summary_check_finds_an_identity_unmapped_and_one_unsummarised(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1"), track(2, D1, userId="u-2")])
    check = sql.load("identity/check_every_identity_summarised")
    assert conn.execute(check).fetchall() == []
    u1, u2 = (identity_of(conn, "user_id", f"u-{n}") for n in (1, 2))
    conn.execute("delete from identities where identity_id = ?", [u1])
    conn.execute("delete from identity_map where identity_id = ?", [u2])
    assert sorted(conn.execute(check).fetchall()) == sorted(
        [(u1, "mapped but not in identities"), (u2, "in identities but nothing maps to it")]
    )


def test_events_are_counted_once_per_identifier_and_identity(conn, landing) -> None:
    events = [
        # after trimming, the previous id is the anonymous id: one sighting, not two
        {
            "type": "alias",
            "messageId": "al-5",
            "anonymousId": "a-5",
            "previousId": " a-5 ",
            "userId": "u-5",
        },
        track(2, D1, anonymousId="a-5", email="five@example.com"),
    ]
    land_and_resolve(conn, landing, D1, events)
    counts = dict(
        conn.execute(
            "select identifier_type, event_count from identifiers "
            "where identifier_type in ('anonymous_id', 'user_id', 'email')"
        ).fetchall()
    )
    assert counts == {"anonymous_id": 2, "user_id": 1, "email": 1}
    # the identity's two events each carry two of its identifiers: still two events
    assert conn.execute("select identifier_count, event_count from identities").fetchall() == [
        (3, 2)
    ]


# The identity tables without identifier keys, which follow the order identifiers arrived in.
IDENTITY_TABLES = (
    "select * exclude (identifier_key) from identifiers",
    "select identifier_type, identifier_value, identity_id from identity_map",
    "from identities",
    "select * exclude (cluster_key) from identity_refused_links",
    "select p.event_id, p.day, p.identity_id, i.identifier_type, i.identifier_value "
    "from event_placements as p inner join identifiers as i using (identifier_key)",
    "from identifier_pairs",
)


@pytest.mark.heavy
def test_runs_that_read_no_history_of_their_identifiers_equal_a_rebuild(conn, landing) -> None:
    """A new day adds its sightings to the stored statistics and takes its edges from the
    stored pairs; a re-delivered day counts its identifiers again from their sightings. Both
    give the tables a rebuild gives."""
    rng = random.Random(11)
    for day in (D1, D2, D3, D2):
        events = []
        for i in range(30):
            ids = {"anonymousId": f"a-{rng.randrange(25)}", "device": f"d-{rng.randrange(6)}"}
            if i % 2:
                ids["userId"] = f"u-{rng.randrange(15)}"
            if i % 3 == 0:
                ids["email"] = f"e{rng.randrange(10)}@example.com"
            events.append(track(i, day, **ids))
        land_and_resolve(conn, landing, day, events)
    incremental = {q: sorted(conn.execute(q).fetchall()) for q in IDENTITY_TABLES}
    rebuild_identities(conn)
    assert {q: sorted(conn.execute(q).fetchall()) for q in IDENTITY_TABLES} == incremental
    assert all(incremental.values())


@pytest.mark.heavy
def test_a_day_delivered_again_takes_back_the_neighbours_that_made_a_device_shared(
    conn, landing
) -> None:
    """A device's sharing measure is kept per neighbour, with the events behind it: a day read
    again without two of its users leaves it seen with fewer, and it links again."""
    first = [track(n, D1, userId=f"u-{n}", device="kiosk-1") for n in range(3)]
    land_and_resolve(conn, landing, D1, first)
    later = [track(n, D2, userId=f"u-{n}", device="kiosk-1") for n in range(2, 5)]
    land_and_resolve(conn, landing, D2, later)
    assert status_of(conn, "device_id", "kiosk-1") == (
        "blocked",
        "shared: seen with 5 user_id values",
    )
    land_and_resolve(conn, landing, D2, later[:1])
    assert status_of(conn, "device_id", "kiosk-1") == ("linked", None)
    assert conn.execute(
        "select other_value, events from identifier_pairs "
        "where identifier_value = 'kiosk-1' and other_type = 'user_id' order by 1"
    ).fetchall() == [("u-0", 1), ("u-1", 1), ("u-2", 2)]


def test_a_warehouse_resolved_before_pairs_were_kept_counts_them_once(conn, landing) -> None:
    """A warehouse without identifier_pairs (or with the older identifier_neighbours, which
    kept only pairs with a strong value) has them counted from its sightings when the stage
    first opens it, as a rebuild would count them."""
    land_and_resolve(
        conn, landing, D1, [track(n, D1, userId=f"u-{n}", device="kiosk-1") for n in range(3)]
    )
    land_and_resolve(conn, landing, D2, [track(9, D2, userId="u-0", email="zed@example.com")])
    counted = sorted(conn.execute("from identifier_pairs").fetchall())
    conn.execute("alter table identifier_pairs rename to identifier_neighbours")
    conn.execute("delete from identifier_neighbours where other_type not in ('user_id', 'email')")
    conn.execute("delete from table_definitions where stage = 'identity'")
    graph.ensure_tables(conn)
    assert sorted(conn.execute("from identifier_pairs").fetchall()) == counted
    assert not conn.execute(
        "select * from information_schema.tables where table_name = 'identifier_neighbours'"
    ).fetchall()
    assert ("device_id", "kiosk-1", "user_id", "u-2", 1) in counted


def test_a_day_delivered_again_with_no_event_left_takes_back_its_pairs(conn, landing) -> None:
    """A day whose files come again with no line accepted keeps no sighting, and the pairs
    its old sightings made are taken back, as a rebuild has them."""
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", anonymousId="a-1")])
    land_and_resolve(conn, landing, D2, [track(2, D2, userId="u-2", anonymousId="a-2")])
    landing.write("a.jsonl", ["{not json"], day=D1, raw=True)
    ingest_day(conn, landing.root, D1)
    resolve_identities(conn)
    pairs = "select identifier_value, other_value, events from identifier_pairs order by all"
    incremental = conn.execute(pairs).fetchall()
    assert incremental == [("a-2", "u-2", 1), ("u-2", "a-2", 1)]
    rebuild_identities(conn)
    assert conn.execute(pairs).fetchall() == incremental
