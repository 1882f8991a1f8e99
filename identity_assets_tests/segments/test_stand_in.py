"""The stand-in identifier API against the seed's document: types, errors, headers, bodies."""

from __future__ import annotations

import json
import re

import pytest
import requests

from identity_assets.segments.client import ApiRefused, IdentifierClient
from identity_assets.segments.membership import update_membership
from identity_assets.segments.outbox import deliver_updates, queue_updates
from identity_assets.segments.rules import SegmentRule
from identity_assets_tests.builders import TOKEN, valued_warehouse

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
VISIT = {"platform": "web", "anonymous_id": "anon-1", "count_prev_visits": True}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def post(url: str, body: object = VISIT, *, raw: bytes | None = None, headers=None):
    data = raw if raw is not None else json.dumps(body).encode()
    return requests.post(url + "/identifier", data=data, headers=headers or AUTH, timeout=10)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**VISIT, "platform": 7}, "platform must be a string"),
        ({**VISIT, "count_prev_visits": "yes"}, "count_prev_visits must be a boolean"),
        ({**VISIT, "anonymous_id": {"id": 1}}, "anonymous_id must be a string"),
        ({"platform": "web", "email": ["a@example.com"]}, "email must be a string"),
        ({**VISIT, "phone": 4155550100}, "phone must be a string"),
        ({**VISIT, "valuation_properties": "purchase"}, "valuation_properties must be an object"),
        ({**VISIT, "valuation_properties": {"action": 1}}, "action must be a string"),
        ({**VISIT, "valuation_properties": {"properties": [1]}}, "properties must be an object"),
        ([VISIT], "the body must be a JSON object"),
        ("web", "the body must be a JSON object"),
        (None, "the body must be a JSON object"),
    ],
)
def test_a_body_of_the_wrong_types_is_answered_400(stand_in, body, message) -> None:
    api = stand_in()
    answer = post(api.url, body)
    assert answer.status_code == 400
    assert answer.json() == {
        "success": False,
        "error": {"message": answer.json()["error"]["message"], "code": "INVALID_PARAMETERS"},
    }
    assert message in answer.json()["error"]["message"]
    assert post(api.url).status_code == 200  # still serving
    assert api.stats()["statuses"] == {"200": 1, "400": 1}


@pytest.mark.parametrize("raw", [b"{not json", b'{"platform": "w\xffeb"}', b""])
def test_a_body_that_is_not_json_is_answered_400(stand_in, raw) -> None:
    api = stand_in()
    answer = post(api.url, raw=raw)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert answer.json()["error"]["code"] in ("INVALID_JSON", "INVALID_PARAMETERS")


def test_an_optional_field_may_be_null(stand_in) -> None:
    api = stand_in()
    assert post(api.url, {**VISIT, "email": None, "valuation_properties": None}).ok


def test_the_success_body_is_the_seeds(stand_in) -> None:
    api = stand_in()
    first, second = post(api.url).json(), post(api.url).json()
    assert set(first) == {"success", "data"} and list(first["data"]) == [
        "uuid",
        "email",
        "count_prev_visits",
    ]
    assert first["success"] is True and UUID.match(first["data"]["uuid"])
    assert (first["data"]["email"], first["data"]["count_prev_visits"]) == ("", 1)
    assert second["data"] == {**first["data"], "count_prev_visits": 2}
    other = post(api.url, {**VISIT, "anonymous_id": "anon-2"}).json()
    assert other["data"]["uuid"] != first["data"]["uuid"]


def rate_headers(answer: requests.Response) -> tuple[int, int, int]:
    names = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
    return tuple(int(answer.headers[name]) for name in names)


def test_every_answer_carries_the_rate_limit_headers(stand_in) -> None:
    plain, failing, forbidding = stand_in(), stand_in("--fail-rate", "1"), stand_in("--forbidden")
    answers = {
        200: post(plain.url),
        400: post(plain.url, {"platform": 7}),
        401: post(plain.url, headers={"Authorization": "Bearer wrong"}),
        403: post(forbidding.url),
        404: requests.post(plain.url + "/nowhere", headers=AUTH, timeout=10),
        500: post(failing.url),
    }
    limited = stand_in("--rate-limit", "1")
    answers[429] = next(
        answer for answer in (post(limited.url) for _ in range(50)) if answer.status_code == 429
    )
    for status, answer in answers.items():
        assert answer.status_code == status
        limit, remaining, reset = rate_headers(answer)
        assert (limit, 0 <= remaining < limit or status == 429, reset > 1.6e9) == (
            1 if status == 429 else 1000,
            True,
            True,
        )
    assert rate_headers(answers[429])[1] == 0 and int(answers[429].headers["Retry-After"]) >= 1


def test_a_forbidden_token_is_answered_403_and_stops_delivery(conn, stand_in) -> None:
    api = stand_in("--forbidden")
    answer = post(api.url)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "FORBIDDEN")
    valued_warehouse(conn, [2000] * 5)
    update_membership(conn, (SegmentRule("high", "v.predicted_90d_value > 1000"),))
    queue_updates(conn, "web")
    client = IdentifierClient(api.url, TOKEN, backoff_base=0.05)
    with pytest.raises(ApiRefused, match="refused the token \\(403: the token may not"):
        deliver_updates(conn, client, concurrency=1)
    assert api.stats()["statuses"] == {"403": 2}  # the one above, and the first update's
    pending = conn.execute("select count(*) from segment_updates where status = 'pending'")
    assert pending.fetchall() == [(5,)]
