"""One normalisation: the identity stage's SQL and the Python look-ups trim alike."""

from __future__ import annotations

import json
import random
import sys
import unicodedata

from identity_assets import sql
from identity_assets.identity.normalise import normalise_identifier
from identity_assets.journal.lookup import journal_response
from identity_assets.text import EDGE_CHARS, clean_text
from identity_assets_tests.builders import D1, Landing, connect, land, track


def test_the_trimmed_characters_are_unicode_whitespace_control_and_format_characters() -> None:
    expected = {
        chr(c)
        for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zs", "Zl", "Zp") or chr(c).isspace()
    }
    assert set(EDGE_CHARS) == expected


def test_sql_and_python_trim_any_string_alike() -> None:
    edges = list(EDGE_CHARS)
    inner = [*"aZ@.+-_ 0é", "\u00e9", "\u4e2d", "\U0001f600", "\u200d", "\t", "\u00a0"]
    rnd = random.Random(21)
    values = [
        "".join(rnd.choice(edges + inner) for _ in range(rnd.randint(0, 12))) for _ in range(5000)
    ]
    values += ["", " ", "\tIvy@Example.com\n", "\u00a0\u200bu-1\ufeff", "\U000e0020x\U000e007f"]
    with connect() as conn:
        sql.create_macros(conn)
        conn.execute("create table v as select unnest(?) as value", [values])
        in_sql = conn.execute("select value, clean_text(value) from v").fetchall()
    assert in_sql == [(value, clean_text(value)) for value in values]


def test_a_padded_identifier_is_the_clean_one_in_the_stage_and_the_look_up(
    conn, landing: Landing
) -> None:
    land(
        conn,
        landing,
        D1,
        [
            track(1, D1, userId="u-1", email="\tIvy@Example.com\n"),
            track(2, D1, anonymousId="a-2", email="ivy@example.com"),
            track(3, D1, userId="\u00a0u-3\u200b", device="\r\nd-3\u2028"),
            track(4, D1, userId="u-3", anonymousId="\ta-4\x0b"),
        ],
    )
    stored = conn.execute(
        "select identifier_type, identifier_value from identifiers order by all"
    ).fetchall()
    assert stored == [
        ("anonymous_id", "a-2"),
        ("anonymous_id", "a-4"),
        ("device_id", "d-3"),
        ("email", "ivy@example.com"),
        ("user_id", "u-1"),
        ("user_id", "u-3"),
    ]
    one = json.loads(journal_response(conn, "email", "\tIvy@Example.com\n")[1])["data"]
    other = json.loads(journal_response(conn, "anonymous_id", "a-2")[1])["data"]
    assert one["uuid"] == other["uuid"]
    assert normalise_identifier("device_id", "\u3000d-3\t") == "d-3"
    by_device = json.loads(journal_response(conn, "device_id", "\u3000d-3\t")[1])["data"]
    assert (
        by_device["uuid"]
        == json.loads(journal_response(conn, "anonymous_id", "a-4")[1])["data"]["uuid"]
    )
