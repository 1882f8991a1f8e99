"""Checks on the ingest tables: each verifies the days ingest changed since it last passed."""

from identity_assets.checks import RowCheck, stage_checks

ingest_checks = stage_checks(
    "ingest_checks",
    {
        "lines_balance": RowCheck(
            "raw_files",
            "ingest/check_lines_balance",
            "file(s) where read <> accepted + rejected",
            "Per file, lines read = accepted lines + rejected lines: nothing dropped or doubled.",
            producer="raw_events",
        ),
        "one_row_per_event": RowCheck(
            "raw_events",
            "ingest/check_one_row_per_event",
            "event(s) stored more than once",
            "Every event_id is stored once: re-runs and re-delivered files add no copies.",
            producer="raw_events",
        ),
    },
)
