"""`identity-assets serve` against the real server: the seeds' shapes and errors, tokens,
quotas and 429s, and answers while a run holds the warehouse."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from identity_assets.journal.lookup import journal_response
from identity_assets.serving.app import Quotas
from identity_assets.serving.snapshot import open_current
from identity_assets_tests.builders import IDENTIFIER, IDENTIFY, TRACK, Landing, run_cli
from identity_assets_tests.serving.server import (
    BEARER,
    PARTNER,
    REQUEST_TOKEN,
    running_server,
)

pytestmark = pytest.mark.slow

DAY = date(2026, 11, 20)
SEED_JOURNAL = {
    "platform": "omni-cdi-activation-gtmss",
    "anonymous_id": "anonUser1234567",
    "valuation_properties": {
        "action": "omniIdentityLoggingKey_TAG_NAME_1.0_pageview",
        "properties": {"page_url": "https://example.com/products"},
    },
}
PROFILE = {
    "identifiers": {"user_id": "97980cfea0067"},
    "attributes": ["email", "name"],
    "events": {
        "start_date": 1795132800,  # 2026-11-20T00:00:00Z
        "end_date": 1795219199,
        "wanted": [
            {"event_name": "order_completed", "params": ["value", "currency", "timestamp"]},
            {"event_name": "email_click", "params": ["campaign_id"]},
            {"event_name": "journey_entered", "params": ["journey_id"]},
        ],
    },
    "quota": True,
}
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Landing]:
    """A warehouse run once by `identity-assets run --all`, its snapshot published."""
    root = tmp_path_factory.mktemp("serve")
    landing = Landing(root / "landing")
    landing.write("a.jsonl", [IDENTIFY, TRACK, IDENTIFIER], day=DAY)
    done = run_cli(root, landing, "run", "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "data" / "identity.duckdb", landing


@pytest.fixture(scope="module")
def server(built, tmp_path_factory):
    with running_server(built[0], tmp_path_factory.mktemp("log") / "serve.log") as running:
        yield running


def test_healthz_names_the_snapshot_version_it_serves(built, server) -> None:
    answer = server.get("/healthz")
    with open_current(built[0].parent / "serving") as (pointer, _):
        pass
    assert answer.status == 200
    assert answer.body["snapshot"]["version"] == pointer.version
    assert answer.body["snapshot"]["file"] == pointer.file == f"{pointer.version}.sqlite"


def test_journal_retrieval_answers_in_the_identifier_apis_shape(built, server) -> None:
    answer = server.journal(SEED_JOURNAL)
    assert answer.status == 200
    with open_current(built[0].parent / "serving") as (_, conn):
        _, expected = journal_response(conn, "anonymous_id", "anonUser1234567")

    assert answer.body == json.loads(expected)
    assert answer.body["success"] is True
    assert set(answer.body["data"]) == {"uuid", "journal"}
    assert answer.body["data"]["journal"] and all(
        entry["created_at"].endswith("Z") for entry in answer.body["data"]["journal"]
    )
    assert all(name in answer.headers for name in RATE_HEADERS)
    # the email alone finds the same person (normalised as the identity stage does)
    by_email = server.journal({"platform": "web", "email": " USER@example.com"})
    assert by_email.body["data"]["uuid"] == answer.body["data"]["uuid"]
    # an unknown anonymous id beside a known email: the email finds the person
    both = server.journal(
        {"platform": "web", "anonymous_id": "nobody", "email": "user@example.com"}
    )
    assert both.body["data"]["uuid"] == answer.body["data"]["uuid"]


@pytest.mark.parametrize(
    ("body", "token", "status", "code"),
    [
        (SEED_JOURNAL, None, 401, "UNAUTHORIZED"),
        (SEED_JOURNAL, "not-a-token", 401, "UNAUTHORIZED"),
        (SEED_JOURNAL, REQUEST_TOKEN, 403, "FORBIDDEN"),
        ({**SEED_JOURNAL, "count_prev_visits": True}, BEARER, 403, "READ_ONLY"),
        ({"anonymous_id": "anonUser1234567"}, BEARER, 400, "INVALID_PARAMETER"),
        ({"platform": "web", "phone": "+14155550100"}, BEARER, 400, "MISSING_IDENTIFIER"),
        ({"platform": "web", "email": 7}, BEARER, 400, "INVALID_PARAMETER"),
        (b"{not json", BEARER, 400, "INVALID_REQUEST"),
        ({"platform": "web", "anonymous_id": "never-seen"}, BEARER, 404, "IDENTIFIER_NOT_FOUND"),
    ],
)
def test_journal_errors_have_the_apis_error_shape(server, body, token, status, code) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    answer = server.post("/api/v1/identifier", body, headers)
    assert answer.status == status
    assert answer.body["success"] is False
    assert answer.body["error"]["code"] == code and answer.body["error"]["message"]
    assert all(name in answer.headers for name in RATE_HEADERS)


def test_an_unknown_path_is_a_404_in_the_error_shape(server) -> None:
    answer = server.post("/api/v1/nothing", {}, {"Authorization": f"Bearer {BEARER}"})
    assert (answer.status, answer.body["success"], answer.body["error"]["code"]) == (
        404,
        False,
        "NOT_FOUND",
    )
    assert server.get("/api/v1/identifier").body["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_profile_answers_attributes_events_in_range_and_quota(server) -> None:
    answer = server.profile(PROFILE)
    assert answer.status == 200, answer.body
    assert answer.body["attributes"] == {
        "email": "Cool.Person@Example.com",
        "name": "Cool",
        "iid": answer.body["attributes"]["iid"],
    }
    assert answer.body["events"] == {
        "order_completed": [
            {
                "value": 99.99,
                "currency": "USD",
                "timestamp": 1795169100,
                "created_date": "2026-11-20T10:05:00Z",
            }
        ],
        "email_click": [],
        "journey_entered": [],
    }
    # three kinds of events cost 2.5 units, as in the profile API's sample
    assert answer.body["quota"]["cost"] == 2.5 and answer.body["quota"]["total"] == 1000
    assert all(name in answer.headers for name in RATE_HEADERS)
    before = {**PROFILE["events"], "start_date": 0, "end_date": 1795132799}
    earlier = server.profile({**PROFILE, "events": before, "quota": False})
    assert earlier.body["events"]["order_completed"] == [] and "quota" not in earlier.body


@pytest.mark.parametrize(
    ("body", "partner", "token", "status", "error"),
    [
        ({"identifiers": {"email": "x@y.z"}, "attributes": ["email"]}, PARTNER, REQUEST_TOKEN,
         404, "no such user for these identifiers: no data"),
        ({"attributes": ["email"]}, PARTNER, REQUEST_TOKEN, 400, "bad request: the body must"),
        (PROFILE, PARTNER, "wrong", 401, "unauthorized:"),
        (PROFILE, "otherbrand", REQUEST_TOKEN, 401, "unauthorized:"),
        (PROFILE, "MyBrand", REQUEST_TOKEN, 400, "bad request: X-PARTNER-NAME must be lowercase"),
        (PROFILE, PARTNER, BEARER, 401, "unauthorized:"),
    ],
)  # fmt: skip
def test_profile_errors(server, body, partner, token, status, error) -> None:
    answer = server.profile(body, partner=partner, token=token)
    assert answer.status == status
    assert answer.body["error"].startswith(error)
    assert all(name in answer.headers for name in RATE_HEADERS)


def test_tokens_are_never_logged(server) -> None:
    server.journal(SEED_JOURNAL)
    server.profile(PROFILE)
    server.journal(SEED_JOURNAL, token="guessed-token-123")
    log = server.log.read_text()
    assert "POST /api/v1/identifier" in log  # the access log is on
    for secret in (BEARER, REQUEST_TOKEN, "guessed-token-123"):
        assert secret not in log


def test_each_token_has_its_quota_and_then_429(built, tmp_path) -> None:
    with running_server(built[0], tmp_path / "serve.log", IDENTITY_SERVE_QUOTA="5") as server:
        answers = [server.journal(SEED_JOURNAL) for _ in range(6)]
        assert [a.status for a in answers] == [200] * 5 + [429]
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == list("432100")
        assert {a.headers["x-ratelimit-limit"] for a in answers} == {"5"}
        reset = int(answers[0].headers["x-ratelimit-reset"])
        assert reset % 60 == 0 and 0 < reset - time.time() <= 60
        assert answers[-1].body == {
            "success": False,
            "error": {"message": "rejected: too many requests", "code": "RATE_LIMITED"},
        }
        # another token has its own quota
        assert server.journal(SEED_JOURNAL, token="second-journal-token").status == 200
        # profiles: 2.5 units each, the third would pass 5
        spent = [server.profile(PROFILE) for _ in range(3)]
        assert [a.status for a in spent] == [200, 200, 429]
        assert [a.body.get("quota", {}).get("used") for a in spent[:2]] == [2.5, 5]
        assert spent[-1].body == {"error": "rejected: too many requests"}
        # guessing tokens spends the caller's address's quota
        guesses = [server.journal(SEED_JOURNAL, token=f"guess-{n}") for n in range(6)]
        assert [a.status for a in guesses] == [401] * 5 + [429]


def test_a_quota_starts_again_each_minute() -> None:
    now = [120.0]
    quotas = Quotas(3, clock=lambda: now[0])
    assert [quotas.spend("t", 1).allowed for _ in range(4)] == [True, True, True, False]
    assert quotas.spend("t", 1).reset == 180
    assert quotas.spend("other", 3).allowed
    now[0] = 180.0
    assert quotas.spend("t", 2.5).used == 2.5


HOLD_WRITE = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute("begin")
conn.execute("delete from identity_journal")
print("holding", flush=True)
sys.stdin.read()
"""


def test_look_ups_answer_while_a_writer_holds_the_warehouse(built, server) -> None:
    warehouse, landing = built
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE, str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert writer.stdout.readline().strip() == "holding"
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(warehouse), read_only=True)
        assert server.journal(SEED_JOURNAL).status == 200
        assert server.profile(PROFILE).status == 200
        found = run_cli(warehouse.parent.parent, landing, "journal", "--email", "user@example.com")
        assert found.returncode == 0, found.stderr
        profile = run_cli(warehouse.parent.parent, landing, "profile", stdin='{"identifiers": '
                          '{"user_id": "97980cfea0067"}, "attributes": ["email"]}')  # fmt: skip
        assert profile.returncode == 0, profile.stderr
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)


def test_a_run_and_its_snapshot_switch_lose_no_request(built, tmp_path) -> None:
    # a copy of the module's warehouse and landing: this test runs again on them
    shutil.copytree(built[0].parent.parent, tmp_path, dirs_exist_ok=True)
    landing = Landing(tmp_path / "landing")
    warehouse = tmp_path / "data" / "identity.duckdb"
    later = date(2026, 11, 21)
    more = {**IDENTIFIER, "received_at": "2026-11-21T09:00:00Z"}
    landing.write("b.jsonl", [more], day=later)
    statuses: Counter[int] = Counter()
    journal_lengths: set[int] = set()
    stop = threading.Event()

    def client(server) -> None:
        while not stop.is_set():
            answer = server.journal(SEED_JOURNAL, token="second-journal-token")
            statuses[answer.status] += 1
            if answer.status == 200:
                journal_lengths.add(len(answer.body["data"]["journal"]))
            stop.wait(0.005)  # steady asking, leaving the run the processor time it needs

    with running_server(warehouse, tmp_path / "serve.log", IDENTITY_SERVE_QUOTA="1000000") as srv:
        before = srv.get("/healthz").body["snapshot"]["version"]
        clients = [threading.Thread(target=client, args=(srv,)) for _ in range(4)]
        for thread in clients:
            thread.start()
        try:
            done = run_cli(tmp_path, landing, "run", "--all")
            time.sleep(0.5)
        finally:
            stop.set()
            for thread in clients:
                thread.join()
        after = srv.get("/healthz").body["snapshot"]["version"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert after > before
    assert set(statuses) == {200} and statuses[200] > 20
    # answers came from both versions: one entry before the run, two after
    assert journal_lengths == {1, 2}
