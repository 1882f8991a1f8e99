"""The daily schedule, the late-files sensor, and blocking checks that stop the flow."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from identity_assets.definitions import DAILY_JOB_NAME, defs
from identity_assets.identity.assets import resolve_identity_graph
from identity_assets.identity.checks import identity_checks
from identity_assets.ingest.assets import ingest_landed_days
from identity_assets.ingest.core import ingest_day
from identity_assets.journal.assets import build_journals
from identity_assets.resources import (
    IdentityRulesResource,
    LandingDirectory,
)
from identity_assets.schedules import build_late_files_sensor, build_schedule
from identity_assets_tests.builders import DAY, Landing, pipeline_resources, track


def run_schedule(landing: Landing, at: datetime):
    schedule = build_schedule(DAILY_JOB_NAME)
    context = dg.build_schedule_context(
        scheduled_execution_time=at,
        resources={"landing": LandingDirectory(path=str(landing.root))},
        repository_def=defs.get_repository_def(),
    )
    return schedule.evaluate_tick(context)


def test_the_schedule_runs_the_day_that_just_ended(landing: Landing) -> None:
    landing.write("a.jsonl", [track(1, DAY, userId="u-1")])
    data = run_schedule(landing, datetime(2026, 11, 21, 3, 0, tzinfo=UTC))
    (request,) = data.run_requests
    assert (request.partition_key, request.run_key) == ("2026-11-20", "daily-2026-11-20")

    data = run_schedule(landing, datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    assert not data.run_requests
    assert "no exports landed for 2026-11-21" in data.skip_message


def test_the_schedule_follows_the_configured_time_zone(landing: Landing, monkeypatch) -> None:
    monkeypatch.setenv("IDENTITY_TIMEZONE", "America/Los_Angeles")
    monkeypatch.setenv("IDENTITY_SCHEDULE_CRON", "30 1 * * *")
    landing.write("a.jsonl", [track(1, DAY, userId="u-1")])
    schedule = build_schedule(DAILY_JOB_NAME)
    assert (schedule.cron_schedule, schedule.execution_timezone) == (
        "30 1 * * *",
        "America/Los_Angeles",
    )
    # 09:30 UTC on the 21st is 01:30 in Los Angeles: the day that just ended there is the 20th
    data = run_schedule(landing, datetime(2026, 11, 21, 9, 30, tzinfo=UTC))
    assert data.run_requests[0].partition_key == "2026-11-20"


def evaluate_sensor(tmp_path: Path, landing: Landing):
    sensor = build_late_files_sensor(DAILY_JOB_NAME)
    with dg.build_sensor_context(
        resources=pipeline_resources(tmp_path / "identity.duckdb", landing.root),
        repository_def=defs.get_repository_def(),
    ) as context:
        return sensor.evaluate_tick(context)


def test_the_sensor_reruns_a_day_when_files_land_late(tmp_path: Path, landing: Landing) -> None:
    landing.write("a.jsonl", [track(1, DAY, userId="u-1")])
    database = str(tmp_path / "identity.duckdb")
    with duckdb.connect(database) as conn:
        ingest_day(conn, landing.root, DAY)
    assert (
        "no ingested day has new or changed files"
        in evaluate_sensor(tmp_path, landing).skip_message
    )

    landing.write("late.jsonl.gz", [track(2, DAY, userId="u-2")])
    (request,) = evaluate_sensor(tmp_path, landing).run_requests
    assert request.partition_key == DAY.isoformat()
    assert request.run_key.startswith(f"late-{DAY}-")
    assert "late.jsonl.gz (new)" in request.tags["identity_assets/reason"]
    again = evaluate_sensor(tmp_path, landing).run_requests[0]
    assert again.run_key == request.run_key  # the same change asks for the same run, once

    with duckdb.connect(database) as conn:
        ingest_day(conn, landing.root, DAY)
    assert not evaluate_sensor(tmp_path, landing).run_requests


def test_the_sensor_waits_while_a_run_holds_the_warehouse(tmp_path: Path, landing: Landing):
    landing.write("a.jsonl", [track(1, DAY, userId="u-1")])
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        ingest_day(conn, landing.root, DAY)
        landing.write("late.jsonl", [track(2, DAY, userId="u-2")])
        data = evaluate_sensor(tmp_path, landing)
    assert not data.run_requests and "cannot be read now" in data.skip_message


@pytest.mark.parametrize("max_size", [1, 50])
def test_an_over_merge_stops_everything_downstream(tmp_path: Path, landing: Landing, max_size):
    landing.write("a.jsonl", [track(1, DAY, userId="u-1", anonymousId="a-1", email="a@b.co")])
    result = dg.materialize(
        [ingest_landed_days, resolve_identity_graph, build_journals, identity_checks],
        resources=pipeline_resources(
            tmp_path / "identity.duckdb",
            landing.root,
            identity_rules=IdentityRulesResource(max_identity_size=max_size),
        ),
        partition_key=DAY.isoformat(),
        raise_on_error=False,
    )
    materialized = {
        e.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }
    if max_size == 1:
        assert not result.success
        assert "identities" in materialized and "identity_journal" not in materialized
    else:
        assert result.success and "identity_journal" in materialized
