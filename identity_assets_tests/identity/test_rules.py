"""Identity rules users change: per-type limits with priority, hand blocks, rule changes applied
to history, and the ledger that explains each identity."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date

import pytest

from identity_assets import sql
from identity_assets.identity.explain import explain, render
from identity_assets.identity.graph import rebuild_identities, resolve_identities
from identity_assets.identity.rules import Block, IdentityRules, load_identity_rules
from identity_assets.ingest.core import ingest_day, landed_days
from identity_assets.journal.build import update_journals
from identity_assets.metrics.value import update_values
from identity_assets.sample import SampleConfig, write_sample
from identity_assets.segments.membership import update_membership
from identity_assets.segments.outbox import queue_updates
from identity_assets.segments.rules import SegmentRule
from identity_assets_tests.builders import (
    D1,
    D2,
    connect,
    identity_of,
    land_and_resolve,
    partition,
    status_of,
    track,
)

NO_LIMITS = IdentityRules(limits={})
KIOSK = Block("device_id", "kiosk-9", "shared store kiosk")


def refusals(conn) -> list[tuple]:
    return conn.execute(
        "select identifier_type, identifier_value, kept_type, kept_value, rule, first_day, events "
        "from identity_refused_links order by all"
    ).fetchall()


def test_a_user_id_limit_keeps_a_second_account_out_of_an_identity(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", device="tablet-1")])
    land_and_resolve(conn, landing, D2, [track(1, D2, userId="u-2", device="tablet-1")])
    assert identity_of(conn, "device_id", "tablet-1") == identity_of(conn, "user_id", "u-1")
    assert identity_of(conn, "user_id", "u-2") != identity_of(conn, "user_id", "u-1")
    assert refusals(conn) == [
        (
            "device_id",
            "tablet-1",
            "user_id",
            "u-2",
            "limit: at most 1 user_id per identity",
            D2,
            1,
        )
    ]
    counts = conn.execute("select event_count from identities order by all").fetchall()
    assert counts == [(1,), (1,)]  # the second event counts once, for u-2's identity
    rebuild_identities(conn, NO_LIMITS)
    assert identity_of(conn, "user_id", "u-2") == identity_of(conn, "user_id", "u-1")
    assert refusals(conn) == []


def test_an_email_limit_refuses_the_values_past_it_in_event_order(conn, landing) -> None:
    events = [track(n, D1, anonymousId="a-1", email=f"e{n}@example.com") for n in range(3)]
    land_and_resolve(conn, landing, D1, events, IdentityRules(limits={"email": 2}))
    person = identity_of(conn, "anonymous_id", "a-1")
    assert identity_of(conn, "email", "e0@example.com") == person
    assert identity_of(conn, "email", "e1@example.com") == person
    assert identity_of(conn, "email", "e2@example.com") != person
    assert [r[:5] for r in refusals(conn)] == [
        (
            "anonymous_id",
            "a-1",
            "email",
            "e2@example.com",
            "limit: at most 2 email per identity",
        )
    ]


@pytest.mark.parametrize(
    ("priority", "refused", "kept"),
    [
        (
            ("user_id", "email", "phone", "device_id", "anonymous_id"),
            ("anonymous_id", "a-1"),
            ("device_id", "d-2"),
        ),
        (
            ("user_id", "email", "phone", "anonymous_id", "device_id"),
            ("device_id", "d-2"),
            ("anonymous_id", "a-1"),
        ),
    ],
)
def test_priority_decides_which_identifier_of_a_conflicting_event_is_refused(
    conn, landing, priority, refused, kept
) -> None:
    first = [
        track(1, D1, userId="u-1", anonymousId="a-1"),
        track(2, D1, userId="u-2", device="d-2"),
    ]
    land_and_resolve(conn, landing, D1, first, IdentityRules(priority=priority))
    land_and_resolve(
        conn,
        landing,
        D2,
        [track(1, D2, anonymousId="a-1", device="d-2")],
        IdentityRules(priority=priority),
    )
    assert [r[:4] for r in refusals(conn)] == [(*refused, *kept)]
    assert identity_of(conn, "anonymous_id", "a-1") == identity_of(conn, "user_id", "u-1")
    assert identity_of(conn, "device_id", "d-2") == identity_of(conn, "user_id", "u-2")
    update_journals(conn)
    placed = conn.execute(
        "select identity_id from identity_journal where occurred_at::date = ?", [D2]
    ).fetchall()
    assert placed == [(identity_of(conn, *kept),)]


@pytest.mark.heavy
def test_a_hand_block_splits_an_identity_and_the_first_seen_part_keeps_its_id(
    conn, landing
) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", device="kiosk-9")], NO_LIMITS)
    land_and_resolve(conn, landing, D2, [track(1, D2, userId="u-2", device="kiosk-9")], NO_LIMITS)
    merged = identity_of(conn, "user_id", "u-1")
    assert identity_of(conn, "user_id", "u-2") == merged

    result = resolve_identities(conn, replace(NO_LIMITS, blocks=(KIOSK,)))
    assert result.changed_days == 0
    assert result.rule_changes == ("blocked device_id kiosk-9 (shared store kiosk)",)
    assert status_of(conn, "device_id", "kiosk-9") == ("blocked", "manual: shared store kiosk")
    assert identity_of(conn, "user_id", "u-1") == merged
    split_off = identity_of(conn, "user_id", "u-2")
    assert split_off not in (None, merged)
    assert conn.execute(
        "select identity_id, absorbed_identity_id, reason from identity_merges "
        "where reason like 'split%'"
    ).fetchall() == [
        (merged, split_off, "split: blocked device_id kiosk-9 (manual: shared store kiosk)")
    ]

    resolve_identities(conn, NO_LIMITS)
    assert identity_of(conn, "user_id", "u-2") == merged
    assert conn.execute(
        "select reason from identity_merges "
        "where absorbed_identity_id = ? and reason like 'merge%'",
        [split_off],
    ).fetchall() == [("merge: rules changed: unblocked device_id kiosk-9",)]


def test_a_hand_block_is_written_as_the_user_typed_it(conn, landing) -> None:
    land_and_resolve(
        conn, landing, D1, [track(1, D1, userId="u-1", email="jane.doe@gmail.com")], NO_LIMITS
    )
    block = Block("email", " Jane.Doe+shop@Gmail.com ", "shared inbox")
    resolve_identities(conn, replace(NO_LIMITS, blocks=(block,)))
    assert status_of(conn, "email", "janedoe@gmail.com") == ("blocked", "manual: shared inbox")


def test_a_raised_sharing_guard_links_what_it_had_blocked(conn, landing) -> None:
    events = [track(n, D1, userId=f"u-{n}", device="family-tablet") for n in range(3)]
    land_and_resolve(conn, landing, D1, events, replace(NO_LIMITS, max_linked=2))
    assert status_of(conn, "device_id", "family-tablet")[0] == "blocked"
    result = resolve_identities(conn, replace(NO_LIMITS, max_linked=3))
    assert result.rule_changes == ("sharing guard 2 -> 3 values",)
    assert status_of(conn, "device_id", "family-tablet") == ("linked", None)
    assert len({identity_of(conn, "user_id", f"u-{n}") for n in range(3)}) == 1


def test_a_new_placeholder_re_reads_the_days_that_carry_it(conn, landing) -> None:
    events = [track(n, D1, userId=f"u-{n}", anonymousId="shared-default") for n in range(2)]
    land_and_resolve(conn, landing, D1, events, NO_LIMITS)
    assert identity_of(conn, "user_id", "u-0") == identity_of(conn, "user_id", "u-1")
    rules = replace(NO_LIMITS, placeholders=(*NO_LIMITS.placeholders, "Shared-Default"))
    result = resolve_identities(conn, rules)
    assert result.changed_days == 1
    assert status_of(conn, "anonymous_id", "shared-default") == ("blocked", "placeholder")
    assert identity_of(conn, "user_id", "u-0") != identity_of(conn, "user_id", "u-1")


def test_an_unchanged_rerun_does_nothing(conn, landing) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", device="d-1")])
    result = resolve_identities(conn)
    assert (result.changed_days, result.rule_changes, result.touched_identifiers) == (0, (), 0)


@pytest.fixture(scope="module")
def sample_landing(tmp_path_factory):
    landing = tmp_path_factory.mktemp("rules") / "landing"
    write_sample(landing, SampleConfig(people=300, days=4, history_days=60))
    return landing


def _state(conn) -> dict[str, list]:
    return {
        "identity_map": conn.execute(
            "select identifier_type, identifier_value, identity_id from identity_map order by all"
        ).fetchall(),
        "identifiers": conn.execute(
            "select identifier_type, identifier_value, status, block_reason from identifiers "
            "order by all"
        ).fetchall(),
        "identities": conn.execute(
            "select * exclude (event_count) from identities order by all"
        ).fetchall(),
        "refused": conn.execute(
            "select * exclude (cluster_key) from identity_refused_links order by all"
        ).fetchall(),
    }


def _ingest(conn, landing, days, rules) -> None:
    for day in days:
        ingest_day(conn, landing, day)
        resolve_identities(conn, rules)


@pytest.mark.heavy
def test_a_rule_change_rerun_equals_a_full_rebuild_under_the_new_rules(sample_landing) -> None:
    conn = connect()
    days = landed_days(sample_landing, date(2024, 1, 1))
    _ingest(conn, sample_landing, days, IdentityRules())
    emails = [
        v
        for (v,) in conn.execute(
            "select identifier_value from identity_map where identifier_type = 'email' "
            "order by identifier_value limit 3"
        ).fetchall()
    ]
    stricter = IdentityRules(
        limits={"user_id": 1, "email": 1, "anonymous_id": 1},
        priority=("email", "user_id", "phone", "anonymous_id", "device_id"),
        blocks=tuple(Block("email", e, "support desk address") for e in emails),
        max_linked=2,
    )
    for rules in (stricter, IdentityRules()):
        result = resolve_identities(conn, rules)
        assert result.changed_days == 0 and result.rule_changes
        after_change = _state(conn)
        rebuild_identities(conn, rules)
        assert _state(conn) == after_change
    assert after_change["refused"] == []
    conn.close()


@pytest.mark.heavy
def test_processing_days_in_another_order_gives_the_same_ids(sample_landing) -> None:
    rules = IdentityRules(limits={"user_id": 1, "anonymous_id": 1})
    days = landed_days(sample_landing, date(2024, 1, 1))
    states = []
    for order in (days, days[::-1], days[1::2] + days[::2]):
        conn = connect()
        _ingest(conn, sample_landing, order, rules)
        states.append(_state(conn))
        conn.close()
    assert states[0]["refused"], "the limit should refuse some links on the sample"
    assert states[0] == states[1] == states[2]


def _order(n: int, day: date, amount: float, **ids: str) -> dict:
    return {**track(n, day, **ids), "event": "Order Completed", "properties": {"revenue": amount}}


@pytest.mark.heavy
def test_journals_metrics_and_segments_follow_a_split(conn, landing) -> None:
    big_spenders = (SegmentRule("big_spenders", "total_spend > 100"),)
    land_and_resolve(
        conn, landing, D1, [_order(1, D1, 30, userId="u-1", device="kiosk-9")], NO_LIMITS
    )
    land_and_resolve(
        conn, landing, D2, [_order(1, D2, 200, userId="u-2", device="kiosk-9")], NO_LIMITS
    )
    merged = identity_of(conn, "user_id", "u-1")
    update_journals(conn)
    update_values(conn)
    update_membership(conn, big_spenders)
    queue_updates(conn, "web")

    resolve_identities(conn, replace(NO_LIMITS, blocks=(KIOSK,)))
    split_off = identity_of(conn, "user_id", "u-2")
    update_journals(conn)
    update_values(conn)
    update_membership(conn, big_spenders)
    queue_updates(conn, "web")

    journal = conn.execute(
        "select identity_id, count(*) from identity_journal group by 1 order by 1"
    ).fetchall()
    assert sorted(journal) == sorted([(merged, 1), (split_off, 1)])
    profiles = conn.execute("select identity_id from customer_profiles order by 1").fetchall()
    assert profiles == sorted([(merged,), (split_off,)])
    spend = dict(conn.execute("select identity_id, total_spend from customer_metrics").fetchall())
    assert spend == {merged: 30, split_off: 200}
    changes = conn.execute("select identity_id, change from segment_updates").fetchall()
    assert sorted(changes) == sorted(
        [(merged, "entered"), (merged, "exited"), (split_off, "entered")]
    )


def test_explain_shows_the_joining_path_the_refusals_and_the_blocks(conn, landing) -> None:
    land_and_resolve(
        conn,
        landing,
        D1,
        [
            track(1, D1, userId="u-1", anonymousId="a-1"),
            track(2, D1, anonymousId="a-1", email="jane@example.com"),
            track(3, D1, userId="u-1", device="undefined"),
        ],
    )
    land_and_resolve(conn, landing, D2, [track(1, D2, userId="u-2", anonymousId="a-1")])
    answer = explain(conn, "email", " Jane@Example.com")
    assert answer is not None
    assert answer["identity"]["identity_id"] == identity_of(conn, "user_id", "u-1")
    paths = {
        (m["identifier_type"], m["identifier_value"]): [h["via"] for h in m["path"]]
        for m in answer["members"]
    }
    assert paths == {
        ("user_id", "u-1"): [],
        ("anonymous_id", "a-1"): ["user_id u-1"],
        ("email", "jane@example.com"): ["user_id u-1", "anonymous_id a-1"],
    }
    email = next(m for m in answer["members"] if m["identifier_type"] == "email")
    assert email["path"][-1]["day"] == D1 and email["path"][-1]["kind"] == "track"
    assert [
        (r["identifier_value"], r["kept_value"], r["rule"]) for r in answer["refused_links"]
    ] == [("a-1", "u-2", "limit: at most 1 user_id per identity")]
    assert [(b["identifier_value"], b["block_reason"]) for b in answer["blocked_alongside"]] == [
        ("undefined", "placeholder")
    ]
    text = render(answer)
    # timestamps as ISO-8601 UTC, as the journal prints them
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", answer["identifier"]["first_seen"]
    )
    assert f"from {answer['identifier']['first_seen']} to " in text
    assert "email jane@example.com <- anonymous_id a-1" in text
    assert "a-1 kept apart from user_id u-2: limit: at most 1 user_id per identity" in text
    assert explain(conn, "email", "nobody@example.com") is None


def test_rules_load_from_a_file_over_the_defaults(tmp_path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            {
                "limits": {"email": 2, "anonymous_id": None},
                "blocks": [{"type": "device_id", "value": "kiosk-9", "reason": "store kiosk"}],
                "extra_placeholders": ["guest-user"],
            }
        )
    )
    rules = load_identity_rules(path)
    assert rules.limits == {"user_id": 1, "email": 2, "phone": 5, "device_id": 5}
    assert rules.blocks == (Block("device_id", "kiosk-9", "store kiosk"),)
    assert "guest-user" in rules.placeholders


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"limits": {"fax": 1}}, "unknown identifier types"),
        ({"limits": {"email": 0}}, "at least 1"),
        ({"priority": ["user_id"]}, "must list each"),
        ({"blocks": [{"type": "email", "value": "x@example.com"}]}, "needs a reason"),
        ({"block": []}, "unknown keys"),
    ],
)
def test_bad_rules_files_get_a_clear_error(tmp_path, content, message) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        load_identity_rules(path)


def test_the_limit_checks_find_an_identity_over_a_limit_and_a_refused_link_joined(
    conn, landing
) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", device="tablet-1")])
    land_and_resolve(conn, landing, D2, [track(1, D2, userId="u-2", device="tablet-1")])
    within = sql.load("identity/check_identities_within_limits")
    apart = sql.load("identity/check_refused_links_apart")
    assert conn.execute(within).fetchall() == []
    assert conn.execute(apart).fetchall() == []
    conn.execute(
        "update identity_map set identity_id = ? where identifier_value = 'u-2'",
        [identity_of(conn, "user_id", "u-1")],
    )
    assert [row[:3] for row in conn.execute(within).fetchall()] == [
        (identity_of(conn, "user_id", "u-1"), "user_id", 2)
    ]
    assert len(conn.execute(apart).fetchall()) == 1


@pytest.mark.heavy
def test_a_priority_change_moves_a_journal_row_between_identities_that_keep_their_members(
    conn, landing
) -> None:
    anonymous_first = IdentityRules(
        priority=("user_id", "email", "phone", "anonymous_id", "device_id")
    )
    first = [
        track(1, D1, userId="u-1", anonymousId="a-1"),
        track(2, D1, userId="u-2", device="d-2"),
    ]
    land_and_resolve(conn, landing, D1, first)
    land_and_resolve(conn, landing, D2, [track(1, D2, anonymousId="a-1", device="d-2")])
    update_journals(conn)
    query = "select identity_id from identity_journal where occurred_at::date = ?"
    assert conn.execute(query, [D2]).fetchall() == [(identity_of(conn, "user_id", "u-2"),)]
    before = partition(conn)
    resolve_identities(conn, anonymous_first)
    update_journals(conn)
    assert partition(conn) == before
    assert conn.execute(query, [D2]).fetchall() == [(identity_of(conn, "user_id", "u-1"),)]


def test_a_warehouse_resolved_before_limits_existed_gets_them_on_its_next_run(
    conn, landing
) -> None:
    land_and_resolve(conn, landing, D1, [track(1, D1, userId="u-1", device="tablet-1")], NO_LIMITS)
    land_and_resolve(conn, landing, D2, [track(1, D2, userId="u-2", device="tablet-1")], NO_LIMITS)
    conn.execute("delete from stage_rules where stage = 'identity'")
    conn.execute("delete from table_definitions where stage = 'identity'")
    conn.execute("update identity_map set cluster_key = null")
    result = resolve_identities(conn)
    assert result.changed_days == 0
    assert "limit user_id none -> 1" in result.rule_changes
    assert identity_of(conn, "user_id", "u-1") != identity_of(conn, "user_id", "u-2")
    assert conn.execute(
        "select count(*) from identity_map where cluster_key is null"
    ).fetchone() == (0,)


@pytest.mark.heavy
def test_events_of_an_unblocked_identifier_come_back_to_the_journal(conn, landing) -> None:
    coverage = sql.load("journal/check_journal_covers_linked_events")
    events = [
        track(1, D1, userId="u-1", device="kiosk-9"),
        track(2, D1, device="kiosk-9"),
    ]
    land_and_resolve(conn, landing, D1, events, replace(NO_LIMITS, blocks=(KIOSK,)))
    land_and_resolve(
        conn, landing, D2, [track(1, D2, userId="u-2")], replace(NO_LIMITS, blocks=(KIOSK,))
    )
    update_journals(conn)
    assert conn.execute("select count(*) from identity_journal").fetchone() == (2,)
    resolve_identities(conn, NO_LIMITS)
    update_journals(conn)
    assert conn.execute(coverage).fetchall() == []
    assert conn.execute(
        "select count(*) from identity_journal where identity_id = ?",
        [identity_of(conn, "device_id", "kiosk-9")],
    ).fetchone() == (2,)
    resolve_identities(conn, replace(NO_LIMITS, blocks=(KIOSK,)))
    update_journals(conn)
    assert conn.execute(coverage).fetchall() == []
    assert conn.execute("select count(*) from identity_journal").fetchone() == (2,)
