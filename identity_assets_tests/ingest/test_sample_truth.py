"""Ingest scored against the sample generator's own ground truth."""

import csv
from datetime import date

from identity_assets.ingest.core import ingest_days, landed_days
from identity_assets.sample import SampleConfig, write_sample
from identity_assets_tests.builders import connect

EXPECTED_REASON = {
    "truncated_json": "invalid_json",
    "json_array": "not_an_object",
    "json_string": "not_an_object",
    "no_shape": "unknown_shape",
    "no_identifier": "no_identifier",
    "user_id_object": "wrong_type",
    "user_id_list": "wrong_type",
    "timestamp_number": "bad_timestamp",
    "timestamp_unparseable": "bad_timestamp",
    "events_body_object": "events_not_array_of_objects",
    "events_body_strings": "events_not_array_of_objects",
}


def test_every_malformed_and_duplicate_line_of_the_sample_is_rejected_and_nothing_else(tmp_path):
    landing = tmp_path / "landing"
    summary = write_sample(landing, SampleConfig(people=300, days=4, history_days=60))
    conn = connect()
    list(ingest_days(conn, landing, landed_days(landing, date(2024, 1, 1))))

    truth = {}
    with open(landing / "_truth" / "malformed.csv") as handle:
        for row in csv.DictReader(handle):
            truth[(row["file"], int(row["line_number"]))] = EXPECTED_REASON[row["kind"]]
    with open(landing / "_truth" / "duplicates.csv") as handle:
        for row in csv.DictReader(handle):
            truth[(row["file"], int(row["line_number"]))] = "duplicate"
    rejected = {
        (file, line): reason
        for file, line, reason in conn.execute(
            "select source_file, line_number, reason from raw_event_rejects"
        ).fetchall()
    }
    assert rejected == truth
    lines_stored = conn.execute(
        "select (select count(distinct (source_file, line_number)) from raw_events) "
        "+ (select count(*) from raw_event_rejects)"
    ).fetchone()[0]
    assert lines_stored == summary.total_lines
