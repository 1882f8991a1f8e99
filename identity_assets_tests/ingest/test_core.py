"""Tests of the ingest core on an in-memory DuckDB and small landing folders."""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from identity_assets import sql
from identity_assets.ingest import lines
from identity_assets.ingest.core import (
    LandingError,
    UnreadableFileError,
    changed_since_ingest,
    day_files,
    ingest_day,
    ingest_days,
    landed_days,
    plan_batches,
)
from identity_assets_tests.builders import (
    DAY,
    EVENTS,
    IDENTIFIER,
    IDENTIFY,
    TRACK,
    Landing,
    connect,
)


def rows(conn: duckdb.DuckDBPyConnection, query: str) -> list[tuple]:
    return conn.execute(query).fetchall()


def reasons(conn: duckdb.DuckDBPyConnection) -> dict[int, str]:
    return dict(rows(conn, "select line_number, reason from raw_event_rejects"))


def table_state(conn: duckdb.DuckDBPyConnection) -> tuple[list[tuple], list[tuple]]:
    events = rows(conn, "select * exclude (payload), payload::varchar from raw_events order by 1")
    rejects = rows(conn, "select * from raw_event_rejects order by source_file, line_number")
    return events, rejects


def test_three_shapes_become_events_with_source_kind_and_name(conn, landing: Landing) -> None:
    landing.write("mixed.jsonl", [IDENTIFY, TRACK, EVENTS, IDENTIFIER])
    result = ingest_day(conn, landing.root, DAY)

    assert (result.lines_read, result.lines_accepted, result.events_accepted) == (4, 4, 6)
    assert rows(
        conn,
        "select line_number, element_index, source, kind, event_name from raw_events "
        "order by line_number, element_index",
    ) == [
        (1, 0, "segment", "identify", None),
        (2, 0, "segment", "track", "Order Completed"),
        (3, 1, "client_api", "events", "Product Purchased"),
        (3, 2, "client_api", "events", "Product Viewed"),
        (3, 3, "client_api", "events", "Added to Cart"),
        (4, 0, "identifier_api", "identifier", "purchase"),
    ]
    assert result.events_by_source == {"client_api": 3, "identifier_api": 1, "segment": 2}


def test_identifier_columns_are_extracted_raw(conn, landing: Landing) -> None:
    landing.write("mixed.jsonl", [IDENTIFY, EVENTS, IDENTIFIER])
    ingest_day(conn, landing.root, DAY)
    assert rows(
        conn,
        "select user_id, anonymous_id, email, phone, device_id, platform, gclid "
        "from raw_events order by line_number, element_index limit 2",
    ) == [
        (
            "97980cfea0067",
            "a-77",
            " Cool.Person@Example.com ",
            "+1 415 555 0100",
            "dev-1",
            None,
            None,
        ),
        ("u-42", None, None, None, None, None, None),
    ]
    assert rows(conn, "select platform, gclid from raw_events where kind = 'identifier'") == [
        ("web", "EAIaIQob")
    ]


def test_payload_is_the_exact_line_received(conn, landing: Landing) -> None:
    line = '{"type": "track",  "userId": "u-1", "event": "x", "properties": {"b": 1.50, "a": 2e3}}'
    landing.write("exact.jsonl", [line], raw=True)
    ingest_day(conn, landing.root, DAY)
    assert rows(conn, "select payload::varchar from raw_events") == [(line,)]


def test_occurred_at_falls_back_to_received_at_then_the_day(conn, landing: Landing) -> None:
    landing.write(
        "times.jsonl",
        [
            {"type": "page", "anonymousId": "a", "timestamp": "2026-11-20T12:00:00+02:00"},
            {"type": "page", "anonymousId": "b", "receivedAt": "2026-11-20T09:30:00Z"},
            {"type": "page", "anonymousId": "c"},
        ],
    )
    ingest_day(conn, landing.root, DAY)
    assert [
        r[0] for r in rows(conn, "select occurred_at from raw_events order by line_number")
    ] == [
        datetime(2026, 11, 20, 10, 0),
        datetime(2026, 11, 20, 9, 30),
        datetime(2026, 11, 20, 0, 0),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "blank_line"),
        ('{"type": "track", "userId": "u"', "invalid_json"),
        ("[1, 2]", "not_an_object"),
        ('"just a string"', "not_an_object"),
        ('{"foo": 1}', "unknown_shape"),
        ('{"type": "purchase", "userId": "u"}', "unknown_type"),
        ('{"type": 5, "userId": "u"}', "unknown_type"),
        ('{"endpoint": "users", "body": {"external_id": "u"}}', "unknown_endpoint"),
        ('{"type": "track", "event": "x"}', "no_identifier"),
        ('{"type": "track", "userId": "  ", "event": "x"}', "no_identifier"),
        ('{"endpoint": "identify", "body": {"locale": "en"}}', "no_identifier"),
        ('{"type": "track", "userId": {"id": 1}}', "wrong_type"),
        ('{"type": "identify", "userId": "u", "traits": {"email": ["a@b.c"]}}', "wrong_type"),
        ('{"endpoint": "devices", "body": {"device_id": true}}', "wrong_type"),
        ('{"endpoint": "identify", "body": "u-1"}', "wrong_type"),
        ('{"type": "track", "userId": "u", "timestamp": 1732000000}', "bad_timestamp"),
        ('{"type": "track", "userId": "u", "timestamp": "yesterday"}', "bad_timestamp"),
        (
            '{"endpoint": "identify", "received_at": "soon", "body": {"external_id": "u"}}',
            "bad_timestamp",
        ),
        ('{"endpoint": "events", "body": {"external_id": "u"}}', "events_not_array_of_objects"),
        ('{"endpoint": "events", "body": []}', "events_not_array_of_objects"),
        (
            '{"endpoint": "events", "body": [{"external_id": "u"}, "x"]}',
            "events_not_array_of_objects",
        ),
        ('{"endpoint": "events", "body": [{"external_id": "u"}, {"name": "x"}]}', "no_identifier"),
        ('{"endpoint": "events", "body": [{"external_id": ["u"]}]}', "wrong_type"),
        ('{"endpoint": "identifier", "body": {"anonymous_id": "a"}}', "missing_platform"),
    ],
)
def test_each_bad_line_is_rejected_with_its_reason(conn, landing: Landing, line, reason) -> None:
    landing.write("bad.jsonl", [json.dumps(IDENTIFY), line], raw=True)
    result = ingest_day(conn, landing.root, DAY)

    assert reasons(conn) == {2: reason}
    stored = rows(conn, "select raw_line, detail from raw_event_rejects")
    assert stored[0][0] == (line or None)
    assert stored[0][1]
    assert (result.lines_read, result.lines_accepted, result.lines_rejected) == (2, 1, 1)


@pytest.mark.parametrize(
    ("line", "reason", "detail"),
    [
        (
            {"endpoint": "identifier", "body": {"platform": "web", "phone": "+14155550100"}},
            "missing_anonymous_id_or_email",
            "an identifier call needs body.anonymous_id or body.email",
        ),
        (
            {"endpoint": "identifier", "body": {"platform": 7, "anonymous_id": "a"}},
            "wrong_type",
            "body.platform must be a string, not a number",
        ),
        (
            {
                "endpoint": "identifier",
                "body": {"platform": "web", "anonymous_id": "a", "count_prev_visits": "yes"},
            },
            "wrong_type",
            "body.count_prev_visits must be a boolean, not a string",
        ),
        (
            {"endpoint": "alias", "body": {"anonymous_id": "a"}},
            "incomplete_alias",
            "an alias needs both body.anonymous_id and body.external_id",
        ),
        (
            {"type": "alias", "messageId": "m-9", "previousId": "a"},
            "incomplete_alias",
            "an alias needs both previousId and userId",
        ),
        (
            {"endpoint": "identify", "body": {"anonymous_id": "a", "email": "x@example.com"}},
            "missing_external_id",
            "a client identify needs body.external_id",
        ),
        (
            {"endpoint": "events", "body": [{"external_id": "u"}, {"email": "x@example.com"}]},
            "missing_anonymous_or_external_id",
            "events element 2: an event needs anonymous_id or external_id",
        ),
    ],
)
def test_the_seeds_rules_on_identifiers_and_types_reject_with_a_reason(
    conn, landing: Landing, line, reason, detail
) -> None:
    landing.write("bad.jsonl", [IDENTIFY, line])
    ingest_day(conn, landing.root, DAY)
    assert rows(conn, "select line_number, reason, detail from raw_event_rejects") == [
        (2, reason, detail)
    ]


def test_the_seeds_own_examples_are_accepted(conn, landing: Landing) -> None:
    seed_lines = [
        IDENTIFIER,
        {"endpoint": "identifier", "body": {"platform": "web", "email": "user@example.com"}},
        {"endpoint": "alias", "body": {"anonymous_id": "ANONYMOUS_ID", "external_id": "E"}},
        {"endpoint": "identify", "body": {"external_id": "E", "email": "e@example.com"}},
        {"endpoint": "events", "body": [{"anonymous_id": "ANONYMOUS_ID", "name": "x"}]},
        {"type": "alias", "previousId": "a-77", "userId": "97980cfea0067"},
    ]
    landing.write("seed.jsonl", seed_lines)
    result = ingest_day(conn, landing.root, DAY)
    assert rows(conn, "select reason, detail from raw_event_rejects") == []
    assert result.lines_accepted == len(seed_lines)


def test_a_bad_events_element_rejects_the_whole_line(conn, landing: Landing) -> None:
    line = {"endpoint": "events", "body": [{"external_id": "u"}, {"external_id": "u"}, 3]}
    landing.write("events.jsonl", [line])
    result = ingest_day(conn, landing.root, DAY)
    assert result.events_accepted == 0
    assert rows(conn, "select reason, detail from raw_event_rejects") == [
        ("events_not_array_of_objects", "events element 3: a JSON number, not an object")
    ]


@pytest.mark.parametrize("name", ["a.jsonl", "a.ndjson", "a.jsonl.gz", "a.ndjson.gz"])
def test_plain_and_gzip_files_give_the_same_events(conn, landing: Landing, name) -> None:
    landing.write(name, [IDENTIFY, TRACK, EVENTS, IDENTIFIER, "not json"][:4] + ["x"])
    ingest_day(conn, landing.root, DAY)
    assert rows(conn, "select count(*), count(distinct event_id) from raw_events") == [(6, 6)]
    assert rows(conn, "select source_file from raw_files") == [(f"2026-11-20/{name}",)]


def test_files_with_other_names_are_listed_as_ignored(conn, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY])
    landing.write("notes.txt", ["hello"], raw=True)
    result = ingest_day(conn, landing.root, DAY)
    assert result.ignored_files == ("2026-11-20/notes.txt",)
    assert result.files == 1


def test_crlf_files_keep_their_line_numbers(conn, landing: Landing) -> None:
    path = landing.root / DAY.isoformat() / "crlf.jsonl"
    path.parent.mkdir(parents=True)
    lines = [json.dumps(IDENTIFY), "", json.dumps(TRACK), "oops"]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    ingest_day(conn, landing.root, DAY)
    assert rows(conn, "select line_number from raw_events order by 1") == [(1,), (3,)]
    assert reasons(conn) == {2: "blank_line", 4: "invalid_json"}


@pytest.mark.parametrize("name", ["cr.jsonl", "cr.jsonl.gz"])
@pytest.mark.parametrize("block_bytes", [lines.BLOCK_BYTES, 3])
def test_a_lone_carriage_return_stays_in_its_line(conn, landing, monkeypatch, name, block_bytes):
    """JSON allows a carriage return as whitespace: only `\\n`, with one `\\r` before it, ends
    a line, wherever the file's blocks are cut."""
    monkeypatch.setattr(lines, "BLOCK_BYTES", block_bytes)
    event = json.dumps(TRACK).replace(", ", ",\r ", 1)
    broken = '{"type": "track",\r\r "event": '
    text = "\r\n".join([json.dumps(IDENTIFY), event, broken, "", json.dumps(IDENTIFIER)])
    data = (text + "\r\n").encode()
    path = landing.root / DAY.isoformat() / name
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)

    ingest_day(conn, landing.root, DAY)
    assert rows(conn, "select line_number, payload::varchar from raw_events order by 1") == [
        (1, json.dumps(IDENTIFY)),
        (2, event),
        (5, json.dumps(IDENTIFIER)),
    ]
    assert rows(conn, "select line_number, reason, raw_line from raw_event_rejects order by 1") == [
        (3, "invalid_json", broken),
        (4, "blank_line", None),
    ]
    assert rows(conn, "select lines_read from raw_files") == [(5,)]


def test_a_last_line_keeps_a_carriage_return_without_a_newline(conn, landing) -> None:
    path = landing.root / DAY.isoformat() / "a.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(f"{json.dumps(IDENTIFY)}\n{json.dumps(TRACK)}\r".encode())
    ingest_day(conn, landing.root, DAY)
    assert rows(conn, "select line_number, payload::varchar from raw_events order by 1") == [
        (1, json.dumps(IDENTIFY)),
        (2, json.dumps(TRACK) + "\r"),
    ]


def test_a_line_longer_than_the_limit_fails_its_file(conn, landing, monkeypatch) -> None:
    monkeypatch.setattr(lines, "BLOCK_BYTES", 16)
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 1000)
    landing.write("a.jsonl", [IDENTIFY])
    landing.write("b.jsonl.gz", [TRACK, {"long": "x" * 1000}])
    with pytest.raises(UnreadableFileError, match="b.jsonl.gz: line 2 is longer than 1,000 bytes"):
        ingest_day(conn, landing.root, DAY)


SPEC_EXAMPLES = [  # every example line of the input contract, spec/raw-exports.md
    IDENTIFY,
    {**TRACK, "timestamp": "2026-11-20T10:05:00Z"},
    {"type": "page", "messageId": "m-3", "anonymousId": "a-77", "name": "Pricing",
     "properties": {"url": "https://example.com/pricing", "referrer": "https://google.com"}},
    {"type": "alias", "messageId": "m-4", "previousId": "a-77", "userId": "97980cfea0067"},
    {"endpoint": "alias", "received_at": "2026-11-20T10:02:00Z",
     "body": {"anonymous_id": "a-77", "external_id": "u-42"}},
    {"endpoint": "identify", "received_at": "2026-11-20T10:03:00Z",
     "body": {"external_id": "u-42", "anonymous_id": "a-77", "email": "test@test.com",
              "phone": "+1 415 555 0101", "timezone": "America/Chicago", "locale": "en",
              "data": {"first_name": "John", "has_completed_onboarding": True}}},
    {"endpoint": "devices", "received_at": "2026-11-20T10:04:00Z",
     "body": {"external_id": "u-42", "device_id": "5e356e66-1", "token": "45d2",
              "os": "iOS 16.3", "model": "iPhone15,2", "app_build": "465", "app_version": "1.2.4"}},
    EVENTS,
    IDENTIFIER,
]  # fmt: skip


def test_every_example_of_the_input_contract_is_accepted(conn, landing: Landing) -> None:
    landing.write("spec.jsonl", SPEC_EXAMPLES)
    result = ingest_day(conn, landing.root, DAY)
    assert rows(conn, "select line_number, reason, detail from raw_event_rejects") == []
    assert (result.lines_accepted, result.events_accepted) == (9, 11)


def test_rerunning_a_day_changes_nothing(conn, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK, "bad"])
    landing.write("b.jsonl.gz", [EVENTS, IDENTIFIER])
    ingest_day(conn, landing.root, DAY)
    first = table_state(conn)
    ingest_day(conn, landing.root, DAY)
    assert table_state(conn) == first
    assert rows(conn, "select count(*) from raw_files") == [(2,)]


def test_day_folders_and_files_that_are_symbolic_links_are_read(conn, landing, tmp_path) -> None:
    share = tmp_path / "share"
    (share / "day").mkdir(parents=True)
    (share / "one.jsonl").write_text(json.dumps(IDENTIFY) + "\n")
    (share / "day" / "two.jsonl").write_text(json.dumps(TRACK) + "\n")
    (landing.root / DAY.isoformat()).symlink_to(share / "day")
    other = date(2026, 11, 21)
    (landing.root / other.isoformat()).mkdir()
    (landing.root / other.isoformat() / "one.jsonl").symlink_to(share / "one.jsonl")

    assert landed_days(landing.root, date(2026, 1, 1)) == [DAY, other]
    list(ingest_days(conn, landing.root, [DAY, other]))
    assert rows(conn, "select day, source_file, lines_read from raw_files order by day") == [
        (DAY, "2026-11-20/two.jsonl", 1),
        (other, "2026-11-21/one.jsonl", 1),
    ]
    assert rows(conn, "select count(*) from raw_events") == [(2,)]
    assert changed_since_ingest(conn, landing.root, date(2026, 1, 1)) == {}


def test_a_late_file_is_picked_up_by_rerunning_its_day(conn, landing: Landing, tmp_path) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK])
    ingest_day(conn, landing.root, DAY)
    landing.write("late.jsonl", [EVENTS, IDENTIFIER])
    ingest_day(conn, landing.root, DAY)
    incremental = table_state(conn)

    fresh = connect()
    ingest_day(fresh, landing.root, DAY)
    assert table_state(fresh) == incremental
    assert len(incremental[0]) == 6


def test_a_duplicate_line_is_stored_once(conn, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK, EVENTS])
    landing.write("redelivered.jsonl", [EVENTS, TRACK])
    result = ingest_day(conn, landing.root, DAY)
    assert result.events_accepted == 5
    assert rows(
        conn,
        "select source_file, line_number, reason, detail from raw_event_rejects order by 2",
    ) == [
        ("2026-11-20/redelivered.jsonl", 1, "duplicate", "same event as 2026-11-20/a.jsonl line 3"),
        ("2026-11-20/redelivered.jsonl", 2, "duplicate", "same event as 2026-11-20/a.jsonl line 2"),
    ]


def test_a_segment_message_id_seen_again_is_a_duplicate(conn, landing: Landing) -> None:
    retried = {**TRACK, "receivedAt": "2026-11-20T10:09:00Z"}
    landing.write("a.jsonl", [TRACK, retried])
    ingest_day(conn, landing.root, DAY)
    assert reasons(conn) == {2: "duplicate"}


def test_a_line_already_stored_for_another_day_is_a_duplicate(conn, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK])
    landing.write("b.jsonl", [TRACK, EVENTS], day=date(2026, 11, 21))
    ingest_day(conn, landing.root, DAY)
    ingest_day(conn, landing.root, date(2026, 11, 21))
    assert rows(conn, "select day, count(*) from raw_events group by day order by day") == [
        (DAY, 2),
        (date(2026, 11, 21), 3),
    ]
    assert rows(conn, "select day, line_number, detail from raw_event_rejects") == [
        (date(2026, 11, 21), 1, "same event as 2026-11-20/a.jsonl line 2")
    ]


def test_stored_event_keys_follow_the_days_replaced(conn, landing: Landing) -> None:
    """The numbers the duplicate check scans are those of the events stored, day by day."""
    landing.write("a.jsonl", [IDENTIFY, TRACK, EVENTS])
    landing.write("b.jsonl", [IDENTIFIER], day=date(2026, 11, 21))
    list(ingest_days(conn, landing.root, [DAY, date(2026, 11, 21)]))
    landing.write("a.jsonl", [TRACK])
    ingest_day(conn, landing.root, DAY)
    stored = "select day, md5_number_lower(event_id) from raw_events order by all"
    assert rows(conn, "select * from raw_event_keys order by all") == rows(conn, stored)
    assert len(rows(conn, stored)) == 2


def test_a_warehouse_without_event_keys_still_finds_stored_duplicates(
    conn, landing: Landing
) -> None:
    """A warehouse ingested before the keys were kept has them filled from its events."""
    landing.write("a.jsonl", [IDENTIFY, TRACK])
    ingest_day(conn, landing.root, DAY)
    conn.execute("drop table raw_event_keys")
    conn.execute("delete from table_definitions where stage = 'ingest'")
    landing.write("b.jsonl", [TRACK], day=date(2026, 11, 21))
    ingest_day(conn, landing.root, date(2026, 11, 21))
    assert rows(conn, "select day, line_number, detail from raw_event_rejects") == [
        (date(2026, 11, 21), 1, "same event as 2026-11-20/a.jsonl line 2")
    ]


def test_lines_read_equal_accepted_plus_rejected_per_file(conn, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY, "bad", EVENTS, "", TRACK, TRACK])
    landing.write("b.ndjson.gz", [IDENTIFIER, "[1]", EVENTS])
    ingest_day(conn, landing.root, DAY)
    assert rows(conn, sql.load("ingest/check_lines_balance")) == []
    assert rows(
        conn, "select source_file, lines_read, lines_accepted, lines_rejected from raw_files"
    ) == [("2026-11-20/a.jsonl", 6, 3, 3), ("2026-11-20/b.ndjson.gz", 3, 1, 2)]


def test_lines_balance_query_finds_a_lost_line(conn, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY, "bad"])
    ingest_day(conn, landing.root, DAY)
    conn.execute("delete from raw_event_rejects")
    assert rows(
        conn, "select source_file, lines_read from (" + sql.load("ingest/check_lines_balance") + ")"
    ) == [("2026-11-20/a.jsonl", 2)]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not gzip at all", "not a GZIP"),
        (gzip.compress(b'{"type": "track", "userId": "\xff\xfe"}\n', mtime=0), "utf-8"),
    ],
)
def test_an_unreadable_file_fails_naming_it_and_keeps_the_day(conn, landing, content, expected):
    landing.write("good.jsonl", [IDENTIFY, TRACK])
    ingest_day(conn, landing.root, DAY)
    before = table_state(conn)
    (landing.root / DAY.isoformat() / "broken.jsonl.gz").write_bytes(content)

    with pytest.raises(UnreadableFileError, match="2026-11-20/broken.jsonl.gz") as raised:
        ingest_day(conn, landing.root, DAY)
    assert expected.lower() in str(raised.value).lower()
    assert table_state(conn) == before


def test_landed_days_are_sorted_and_skip_underscore_folders(landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY], day=date(2026, 11, 21))
    landing.write("a.jsonl", [IDENTIFY], day=date(2026, 11, 19))
    (landing.root / "_truth").mkdir()
    assert landed_days(landing.root, date(2024, 1, 1)) == [date(2026, 11, 19), date(2026, 11, 21)]


@pytest.mark.parametrize(
    ("folder", "message"), [("2026-13-01", "not a YYYY-MM-DD day"), ("2023-12-31", "before")]
)
def test_folders_outside_the_partitions_are_named(landing: Landing, folder, message) -> None:
    (landing.root / folder).mkdir()
    with pytest.raises(LandingError, match=f"{folder} \\({message}"):
        landed_days(landing.root, date(2024, 1, 1))


def test_a_missing_landing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LandingError, match="does not exist"):
        landed_days(tmp_path / "nowhere", date(2024, 1, 1))


def test_batches_group_days_up_to_a_size(landing: Landing) -> None:
    days = [date(2026, 11, d) for d in (18, 19, 20)]
    for day in days:
        landing.write("a.jsonl", [IDENTIFY] * 10, day=day)
    listing = {day: day_files(landing.root, day)[0] for day in days}
    size = listing[days[0]][0].stat().st_size
    assert plan_batches(listing, size * 2) == [days[:2], days[2:]]
    assert plan_batches(listing, 1) == [[d] for d in days]


@pytest.mark.parametrize(("prefix", "events"), [("t", 4), ("m", 3)])
def test_small_batches_give_the_same_tables_as_one(landing: Landing, prefix, events) -> None:
    """With prefix "m" one track message reuses the identify's messageId "m-1"."""
    days = [date(2026, 11, d) for d in (20, 21, 22)]
    for n, day in enumerate(days):
        track = {**TRACK, "messageId": f"{prefix}-{n}"}
        landing.write("a.jsonl", [IDENTIFY, track, "bad"], day=day)
    one, many = connect(), connect()
    assert len(list(ingest_days(one, landing.root, days))) == 1
    assert len(list(ingest_days(many, landing.root, days, max_batch_bytes=1))) == 3
    assert table_state(one) == table_state(many)
    assert rows(one, "select count(*) from raw_events") == [(events,)]


def test_days_whose_files_did_not_change_are_kept_as_they_are(conn, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK, "not json"])
    (first,) = list(ingest_days(conn, landing.root, [DAY], skip_unchanged=True))
    ingested_at = conn.execute("select ingested_at from raw_files").fetchall()

    (again,) = list(ingest_days(conn, landing.root, [DAY], skip_unchanged=True))
    assert again.unchanged and not first.unchanged
    assert again.days == first.days  # the same figures, read back from what was recorded
    assert conn.execute("select ingested_at from raw_files").fetchall() == ingested_at

    landing.write("late.jsonl", [EVENTS])
    (late,) = list(ingest_days(conn, landing.root, [DAY], skip_unchanged=True))
    assert not late.unchanged and late.days[0].files == 2
    assert conn.execute("select ingested_at from raw_files").fetchall() != ingested_at
