"""UID2 hashes: the hash of every email and phone, and hashed input linking as its plain value.
Also the person's own identifiers only (a group's traits, an email used as userId) and the
seeds' linking rule: an anonymous id is aliased once."""

from __future__ import annotations

import json

import pytest

from identity_assets.identity import graph
from identity_assets.identity.graph import rebuild_identities
from identity_assets.identity.normalise import uid2_hash
from identity_assets.identity.rules import IdentityRules
from identity_assets.journal.build import update_journals
from identity_assets.journal.lookup import find_identity, journal_request_response
from identity_assets_tests.builders import D1, D2, Landing, identity_of, land_and_resolve

# The seed's published examples (UID2 POST /identity/map): normalised value -> Base64 SHA-256.
UID2_EXAMPLES = {
    ("email", "user@example.com"): "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=",
    ("phone", "+12345678901"): "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=",
}
ANN_HASH = "cdT1X3L6Eo37RooaOQFQfIBLdDFkiHRNdp1/SxZpZHY="  # of ann@example.com


def identifier(endpoint: str, day, hour: int, **body) -> dict:
    return {"endpoint": endpoint, "received_at": f"{day}T{hour:02d}:00:00Z", "body": body}


def identify(n: int, day, traits: dict, **ids) -> dict:
    return {
        "type": "identify",
        "messageId": f"{day}-{n}",
        "traits": traits,
        "timestamp": f"{day}T10:00:{n:02d}Z",
        **ids,
    }


def test_identifiers_carry_the_uid2_hash_of_every_email_and_phone(conn, landing: Landing) -> None:
    land_and_resolve(
        conn,
        landing,
        D1,
        [identify(1, D1, {"email": " User@Example.com ", "phone": "+1 234 567 8901"}, userId="u")],
        name="a.jsonl",
    )
    hashes = {
        (kind, value): uid2
        for kind, value, uid2 in conn.execute(
            "select identifier_type, identifier_value, uid2_hash from identifiers"
        ).fetchall()
    }
    assert {key: hashes[key] for key in UID2_EXAMPLES} == UID2_EXAMPLES
    assert hashes[("user_id", "u")] is None


def test_a_hashed_email_links_with_its_plain_email_whichever_comes_first(
    conn, landing: Landing
) -> None:
    hashed = identifier(
        "identifier", D1, 9, platform="web", anonymous_id="a-1", email_hash=ANN_HASH
    )
    plain = identify(1, D2, {"email": "Ann@Example.com"}, userId="u-1")
    land_and_resolve(conn, landing, D1, [hashed])
    # nothing to resolve it yet: the hash is an email identifier of its own, kept as sent
    assert identity_of(conn, "email", ANN_HASH) == identity_of(conn, "anonymous_id", "a-1")
    land_and_resolve(conn, landing, D2, [plain])
    assert identity_of(conn, "email", ANN_HASH) is None
    assert identity_of(conn, "anonymous_id", "a-1") == identity_of(conn, "user_id", "u-1")


def test_a_hash_sent_after_its_plain_email_joins_that_person(conn, landing: Landing) -> None:
    land_and_resolve(conn, landing, D1, [identify(1, D1, {"email": "ann@example.com"}, userId="u")])
    land_and_resolve(
        conn,
        landing,
        D2,
        [identify(2, D2, {"email": ANN_HASH}, anonymousId="a-2")],
    )
    assert identity_of(conn, "anonymous_id", "a-2") == identity_of(conn, "user_id", "u")


def test_a_hash_in_traits_email_is_neither_lower_cased_nor_blocked(conn, landing: Landing) -> None:
    land_and_resolve(conn, landing, D1, [identify(1, D1, {"email": ANN_HASH}, anonymousId="a")])
    assert conn.execute(
        "select identifier_value, status, block_reason, uid2_hash from identifiers "
        "where identifier_type = 'email'"
    ).fetchall() == [(ANN_HASH, "linked", None, ANN_HASH)]


def test_a_group_calls_traits_are_not_the_persons_identifiers(conn, landing: Landing) -> None:
    group = {
        "type": "group",
        "messageId": "g-1",
        "userId": "u-1",
        "groupId": "initech",
        "traits": {"name": "Initech", "email": "billing@initech.com", "phone": "+14155550100"},
        "timestamp": f"{D1}T10:00:00Z",
    }
    land_and_resolve(conn, landing, D1, [group])
    types = conn.execute("select distinct identifier_type from identifiers").fetchall()
    assert types == [("user_id",)]


def test_an_email_sent_as_user_id_is_also_an_email(conn, landing: Landing) -> None:
    land_and_resolve(
        conn,
        landing,
        D1,
        [
            identify(1, D1, {}, userId="Erin@Example.com"),
            identify(2, D1, {"email": "erin@example.com"}, anonymousId="a-9"),
        ],
    )
    assert identity_of(conn, "email", "erin@example.com") == identity_of(
        conn, "user_id", "Erin@Example.com"
    )
    assert identity_of(conn, "anonymous_id", "a-9") == identity_of(
        conn, "user_id", "Erin@Example.com"
    )


def test_look_ups_take_a_uid2_hash_for_its_email(conn, landing: Landing) -> None:
    land_and_resolve(conn, landing, D1, [identify(1, D1, {"email": "ann@example.com"}, userId="u")])
    assert uid2_hash("ann@example.com") == ANN_HASH
    assert find_identity(conn, "email", ANN_HASH) == identity_of(conn, "user_id", "u")
    update_journals(conn)
    request = {"platform": "web", "email_hash": ANN_HASH}
    answer = json.loads(journal_request_response(conn, request)[1])
    assert answer["data"]["uuid"] == identity_of(conn, "user_id", "u")


def alias(day, anonymous_id: str, external_id: str, hour: int) -> dict:
    return identifier("alias", day, hour, anonymous_id=anonymous_id, external_id=external_id)


@pytest.mark.parametrize("limits", [{}, None], ids=["no limits", "default limits"])
def test_an_anonymous_id_is_aliased_only_once_whatever_the_limits(
    conn, landing: Landing, limits
) -> None:
    rules = IdentityRules() if limits is None else IdentityRules(limits=limits)
    lines = [alias(D1, "a-1", "u-1", 9), alias(D1, "a-1", "u-2", 10)]
    land_and_resolve(conn, landing, D1, lines, rules=rules)
    assert identity_of(conn, "anonymous_id", "a-1") == identity_of(conn, "user_id", "u-1")
    assert identity_of(conn, "user_id", "u-2") != identity_of(conn, "user_id", "u-1")
    refused = conn.execute(
        "select rule, identifier_value, kept_value from identity_refused_links"
    ).fetchall()
    assert refused == [
        ("alias only once: the anonymous_id was aliased to another user_id first", "a-1", "u-2")
    ]


def test_a_hash_links_as_its_plain_email_read_in_another_batch_of_days(
    conn, landing: Landing, monkeypatch
) -> None:
    hashed = identifier(
        "identifier", D1, 9, platform="web", anonymous_id="a-1", email_hash=ANN_HASH
    )
    plain = identify(1, D2, {"email": "Ann@Example.com"}, userId="u-1")
    land_and_resolve(conn, landing, D1, [hashed])
    land_and_resolve(conn, landing, D2, [plain])
    stored = {
        table: f"select * from {table} order by all"
        for table in ("identifier_sightings", "identifier_pairs", "identity_map", "identifiers")
    }
    said: list[str] = []
    rebuild_identities(conn, log=said.append)
    whole = {table: conn.execute(query).fetchall() for table, query in stored.items()}
    assert said == []  # one batch: nothing to tell
    # one day to a batch: the hash's day is read in one batch and its plain value's in the next
    monkeypatch.setattr(graph, "SIGHTING_BATCH_EVENTS", 1)
    conn.execute(
        "create or replace temp table sighting_days as select unnest([$1, $2]) as day", [D1, D2]
    )
    batches = [
        (conn.execute("select day from sighting_batch").fetchall(), progress)
        for progress in graph._sighting_batches(conn)
    ]
    assert batches == [([(D1,)], (1, 2)), ([(D2,)], (2, 2))]
    rebuild_identities(conn, log=said.append)
    assert {table: conn.execute(query).fetchall() for table, query in stored.items()} == whole
    assert said == [f"identity: sightings of {n}/2 day(s) read" for n in (1, 2)]
    assert identity_of(conn, "email", ANN_HASH) is None
    assert identity_of(conn, "anonymous_id", "a-1") == identity_of(conn, "user_id", "u-1")
