"""Look-ups in the APIs' shapes: the identifier API's journal and the profile API's answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from identity_assets.identity.normalise import normalise_identifier
from identity_assets.journal.lookup import journal_response, profile_response
from identity_assets_tests.builders import D1, D2, Landing, connect, identify, land

FIRST = (
    '{"type":"track", "userId":"u-1", "event":"Order Completed",'
    ' "properties":{"value":99.990,"currency":"USD","transaction_id":"t-1"},'
    ' "timestamp":"2026-11-18T10:00:00Z"}'
)
LATER = (
    '{"endpoint": "identifier", "received_at": "2026-11-18T12:30:00.250Z", "body": '
    '{"platform": "web", "anonymous_id": "a-1", "email": "Ann@Example.com", '
    '"valuation_properties": {"action": "purchase", "properties": {"value": 5, "sku": "s-9"}}}}'
)
LINK = '{"type":"alias","previousId":"a-1","userId":"u-1","timestamp":"2026-11-18T11:00:00Z"}'


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """Built once for the module: look-ups only read."""
    landing = Landing(tmp_path_factory.mktemp("lookup"))
    with connect() as conn:
        land(conn, landing, D1, [FIRST, LATER, LINK], raw=True)
        identified = identify(
            1, D2, {"firstName": "Ann", "last_name": "Lee", "plan": "pro"}, userId="u-1"
        )
        land(conn, landing, D2, [identified])
        yield conn


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_the_journal_is_most_recent_first_in_the_apis_entry_shape(warehouse) -> None:
    status, text = journal_response(warehouse, "email", "  ANN@example.com")
    assert status == 200
    answer = json.loads(text)
    assert answer["success"] is True
    assert answer["data"]["uuid"].startswith("id-")
    entries = answer["data"]["journal"]
    assert [e["created_at"] for e in entries] == [
        "2026-11-19T09:00:00.000000Z",
        "2026-11-18T12:30:00.250000Z",
        "2026-11-18T11:00:00.000000Z",
        "2026-11-18T10:00:00.000000Z",
    ]
    # an identifier API entry is its request body, untouched, with created_at added at its end
    body = LATER[LATER.index('{"platform"') : -1]
    assert f'{body[:-1]},"created_at":"2026-11-18T12:30:00.250000Z"}}' in text


def test_segment_and_client_api_events_are_mapped_into_the_apis_entry_shape(warehouse) -> None:
    _, text = journal_response(warehouse, "user_id", "u-1")
    entries = json.loads(text)["data"]["journal"]
    track = entries[-1]
    assert {k: v for k, v in track.items() if k != "payload"} == {
        "platform": "segment",
        "user_id": "u-1",
        "valuation_properties": {
            "action": "Order Completed",
            "properties": {"value": 99.99, "currency": "USD", "transaction_id": "t-1"},
        },
        "created_at": "2026-11-18T10:00:00.000000Z",
    }
    # the event as received is kept beside the mapping, byte for byte
    assert f'"payload":{FIRST},"created_at"' in text
    alias = entries[-2]
    assert alias["valuation_properties"] == {"action": "alias", "properties": {}}
    assert (alias["user_id"], alias["previous_id"]) == ("u-1", "a-1")


def test_client_api_calls_are_mapped_with_their_ids_and_data(conn, landing: Landing) -> None:
    lines = [
        {
            "endpoint": "events",
            "received_at": f"{D1}T08:00:00Z",
            "body": [{"external_id": "u-9", "name": "purchase", "data": {"value": 12.5}}],
        },
        {
            "endpoint": "devices",
            "received_at": f"{D1}T07:00:00Z",
            "body": {"external_id": "u-9", "device_id": "d-9", "os": "iOS 16.3"},
        },
        {
            "endpoint": "identifier",
            "received_at": f"{D1}T06:00:00Z",
            "body": {"platform": "web", "anonymous_id": "a-9", "email": "u9@example.com"},
        },
        {
            "endpoint": "alias",
            "received_at": f"{D1}T05:00:00Z",
            "body": {"anonymous_id": "a-9", "external_id": "u-9"},
        },
    ]
    land(conn, landing, D1, lines)
    entries = json.loads(journal_response(conn, "user_id", "u-9")[1])["data"]["journal"]
    purchase, device, identifier, _ = entries
    assert purchase["platform"] == "client_api"
    assert purchase["external_id"] == "u-9"
    assert purchase["valuation_properties"] == {"action": "purchase", "properties": {"value": 12.5}}
    assert purchase["payload"] == lines[0]["body"][0]
    assert device["device_id"] == "d-9"
    assert device["valuation_properties"] == {"action": "devices", "properties": {"os": "iOS 16.3"}}
    # an identifier call without valuation_properties gets an empty one
    assert identifier == {
        **lines[2]["body"],
        "valuation_properties": {"action": "identifier", "properties": {}},
        "created_at": f"{D1}T06:00:00.000000Z",
    }


def test_the_journal_can_be_limited_to_the_latest_entries_and_a_time_range(warehouse) -> None:
    def created(**narrowing) -> list[str]:
        text = journal_response(warehouse, "email", "ann@example.com", **narrowing)[1]
        return [entry["created_at"] for entry in json.loads(text)["data"]["journal"]]

    assert created(limit=2) == ["2026-11-19T09:00:00.000000Z", "2026-11-18T12:30:00.250000Z"]
    assert created(
        since=datetime(2026, 11, 18, 11), until=datetime(2026, 11, 18, 12, 30, 0, 250000)
    ) == ["2026-11-18T11:00:00.000000Z"]
    assert created(since=datetime(2026, 11, 18, 12), limit=1) == ["2026-11-19T09:00:00.000000Z"]


def test_the_same_person_is_found_by_each_identifier(warehouse) -> None:
    answers = {
        kind: json.loads(journal_response(warehouse, kind, value)[1])["data"]["uuid"]
        for kind, value in (
            ("user_id", " u-1 "),
            ("anonymous_id", "a-1"),
            ("email", "ann@example.com"),
        )
    }
    assert len(set(answers.values())) == 1


def test_an_unknown_identifier_gets_the_apis_error_shape(warehouse) -> None:
    status, text = journal_response(warehouse, "email", "nobody@example.com")
    assert status == 404
    assert json.loads(text) == {
        "success": False,
        "error": {
            "message": "no identity has the email 'nobody@example.com'",
            "code": "IDENTIFIER_NOT_FOUND",
        },
    }


def test_a_profile_answers_attributes_and_events_in_the_apis_shape(warehouse) -> None:
    request = {
        "identifiers": {"email": "Ann@Example.com"},
        "attributes": ["email", "name", "surname", "full_name", "c_plan", "c_missing"],
        "events": {
            "start_date": epoch("2026-11-18T00:00:00"),
            "end_date": epoch("2026-11-18T23:59:59"),
            "wanted": [
                {"event_name": "order_completed", "params": ["value", "currency", "timestamp"]},
                {"event_name": "purchase", "params": ["value", "sku"]},
                {"event_name": "email_click", "params": ["campaign_id"]},
            ],
        },
        "quota": True,
    }
    status, answer = profile_response(warehouse, request)
    assert status == 200
    identity_id = json.loads(journal_response(warehouse, "user_id", "u-1")[1])["data"]["uuid"]
    assert answer["attributes"] == {
        "email": "Ann@Example.com",
        "name": "Ann",
        "surname": "Lee",
        "full_name": "Ann Lee",
        "c_plan": "pro",
        "iid": identity_id,
    }
    assert answer["events"] == {
        "order_completed": [
            {
                "value": 99.99,
                "currency": "USD",
                "timestamp": epoch("2026-11-18T10:00:00"),
                "created_date": "2026-11-18T10:00:00Z",
            }
        ],
        "purchase": [{"value": 5, "sku": "s-9", "created_date": "2026-11-18T12:30:00Z"}],
        "email_click": [],
    }


def test_the_date_range_limits_the_events(warehouse) -> None:
    request = {
        "insider_id": json.loads(journal_response(warehouse, "user_id", "u-1")[1])["data"]["uuid"],
        "events": {
            "start_date": epoch("2026-11-18T11:00:00"),
            "end_date": epoch("2026-11-30T00:00:00"),
            "wanted": [{"event_name": "Order Completed", "params": ["value"]}],
        },
    }
    assert profile_response(warehouse, request) == (200, {"events": {"Order Completed": []}})


def test_an_unknown_person_gets_the_apis_404(warehouse) -> None:
    request = {"identifiers": {"phone_number": "+1 415 555 0100"}, "attributes": ["email"]}
    assert profile_response(warehouse, request) == (
        404,
        {"error": "no such user for these identifiers: no data"},
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([], "the body must be a JSON object"),
        ({"attributes": ["email"]}, "identifiers object"),
        ({"identifiers": {}, "attributes": ["email"]}, "non-empty object"),
        ({"identifiers": {"mail": "a@b.c"}, "attributes": ["email"]}, "unknown identifier 'mail'"),
        ({"identifiers": {"email": 7}, "attributes": ["email"]}, "non-empty string"),
        ({"identifiers": {"email": "a@b.c"}}, "attributes, events or both"),
        ({"identifiers": {"email": "a@b.c"}, "attributes": "email"}, "array of strings"),
        (
            {"identifiers": {"email": "a@b.c"}, "events": {"end_date": 2, "wanted": []}},
            "events.start_date must be an epoch",
        ),
        (
            {"identifiers": {"email": "a@b.c"}, "events": {"start_date": 3, "end_date": 2}},
            "start_date is after",
        ),
        (
            {
                "identifiers": {"email": "a@b.c"},
                "events": {"start_date": 1, "end_date": 2, "wanted": [{"params": []}]},
            },
            "needs an event_name",
        ),
        (
            {
                "identifiers": {"email": "a@b.c"},
                "events": {"start_date": 1, "end_date": 2, "wanted": [{"event_name": "x"}]},
            },
            "params of 'x'",
        ),
    ],
)
def test_a_malformed_request_gets_a_400_saying_what_is_wrong(warehouse, body, says) -> None:
    status, answer = profile_response(warehouse, body)
    assert status == 400
    assert answer["error"].startswith("bad request: ")
    assert says in answer["error"]


def test_look_ups_normalise_as_the_identity_stage_does(conn, landing: Landing) -> None:
    raw = {
        "email": [" Jane.Doe+promo@Gmail.com ", "X@Example.COM", "a.b@gmail.com"],
        "phone": ["(415) 555-0100", "+44 20 7946 0958", "001-415-555-0101"],
        "user_id": ["  u-7 "],
    }
    lines = [
        {
            "type": "identify",
            "messageId": f"m-{kind}-{n}",
            "userId": f"owner-{kind}-{n}",
            "traits": {kind: value} if kind != "user_id" else {},
            "timestamp": f"{D1}T10:00:00Z",
        }
        | ({"userId": value} if kind == "user_id" else {})
        for kind, values in raw.items()
        for n, value in enumerate(values)
    ]
    land(conn, landing, D1, lines)
    stored = {
        (kind, value)
        for kind, value in conn.execute(
            "select identifier_type, identifier_value from identifiers "
            "where identifier_type in ('email', 'phone', 'user_id')"
        ).fetchall()
    }
    typed = {
        (kind, normalise_identifier(kind, value))
        for kind, values in raw.items()
        for value in values
    }
    assert typed <= stored


def test_the_lookup_spells_names_as_the_stages_snake_name_macro_does(conn) -> None:
    from identity_assets import sql
    from identity_assets.journal.lookup import _snake

    sql.create_macros(conn)
    names = ["firstName", "First Name", "first_name", "Order Completed", "orderID", "  x--Y  "]
    stored = [row[0] for row in conn.execute("select snake_name(unnest(?))", [names]).fetchall()]
    assert stored == [_snake(name) for name in names]
    assert stored[:4] == ["first_name", "first_name", "first_name", "order_completed"]
