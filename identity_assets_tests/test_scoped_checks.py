"""The blocking checks verify what the run changed; the full sweep verifies everything.

A small sample is built day by day with the stage functions; the checks run through Dagster
(they read their name and the run's tags from the context). A corruption of rows the last run
changed fails the scoped check; one of old rows is past the scoped check but fails the sweep.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from identity_assets import changes
from identity_assets.checks import CHECK_SCOPE_TAG, EVERYTHING
from identity_assets.definitions import SWEEP_JOB_NAME, build_definitions
from identity_assets.identity.checks import identity_checks
from identity_assets.identity.graph import resolve_identities
from identity_assets.ingest.checks import ingest_checks
from identity_assets.ingest.core import ingest_day, landed_days
from identity_assets.journal.build import update_journals
from identity_assets.journal.checks import journal_checks
from identity_assets.resources import Warehouse
from identity_assets.sample import SampleConfig, write_sample
from identity_assets_tests.builders import run_checks

pytestmark = pytest.mark.heavy

SAMPLE = SampleConfig(people=40, days=3, history_days=20)
JOURNAL_CHECKS = [journal_checks]
# the journal's checks and the ingest check that finds an event stored twice by its key
JOURNAL_AND_KEYS = (*(key.name for key in journal_checks.check_keys), "one_row_per_event")


def passed(evaluations: dict[str, dg.AssetCheckEvaluation]) -> dict[str, bool]:
    return {name: e.passed for name, e in evaluations.items()}


def run_day(conn: duckdb.DuckDBPyConnection, landing: Path, day: date) -> None:
    ingest_day(conn, landing, day)
    resolve_identities(conn)
    update_journals(conn)


@pytest.fixture(scope="module")
def built_once(tmp_path_factory) -> tuple[Path, Path, list[date]]:
    """All days but the last built, and every check passed once over them: (warehouse file,
    landing, days)."""
    root = tmp_path_factory.mktemp("scoped_checks")
    landing, database = root / "landing", root / "identity.duckdb"
    write_sample(landing, SAMPLE)
    days = landed_days(landing, date(2000, 1, 1))
    warehouse = Warehouse(database=str(database))
    with warehouse.get_connection() as conn:
        for day in days[:-1]:
            run_day(conn, landing, day)
    checks = [*JOURNAL_CHECKS, ingest_checks, identity_checks]
    evaluations = run_checks(checks, warehouse)
    assert all(passed(evaluations).values())
    assert {e.metadata["scope"].value for e in evaluations.values()} == {
        "everything: the check's first pass"
    }
    return database, landing, days


@pytest.fixture
def built(built_once, tmp_path: Path) -> tuple[Warehouse, Path, list[date]]:
    """A copy of the warehouse `built_once` made, for one test to change."""
    database, landing, days = built_once
    copy = tmp_path / "identity.duckdb"
    shutil.copy(database, copy)
    return Warehouse(database=str(copy)), landing, days


def test_a_corrupted_row_of_the_run_fails_the_scoped_check(built) -> None:
    warehouse, landing, days = built
    with warehouse.get_connection() as conn:
        run_day(conn, landing, days[-1])
        conn.execute(
            "delete from identity_journal where event_id = "
            "(select min(event_id) from identity_journal where day = ?)",
            [days[-1]],
        )
    evaluations = run_checks(JOURNAL_CHECKS, warehouse)
    assert passed(evaluations) == {
        "journal_covers_linked_events": False,
        "journal_identities_exist": True,
        "one_profile_per_identity": True,
    }
    coverage = evaluations["journal_covers_linked_events"].metadata
    assert coverage["scope"].value.startswith("changes of event_placements versions")
    assert coverage["scope_days"].value == 1


def test_a_changed_identity_gone_fails_the_scoped_check_with_its_rows_on_every_day(built) -> None:
    """On other days the scoped check reads only the rows of changed identities that are gone:
    removing a changed identity from `identities` finds all of its rows, old days' too."""
    warehouse, landing, days = built
    with warehouse.get_connection() as conn:
        run_day(conn, landing, days[-1])
        # an identity with rows on the last day and on an earlier one
        gone, rows = conn.execute(
            "select identity_id, count(*) from identity_journal where identity_id in"
            " (select identity_id from identity_journal where day = $last"
            "  intersect select identity_id from identity_journal where day < $last)"
            " group by identity_id order by identity_id limit 1",
            {"last": days[-1]},
        ).fetchone()
        assert (
            rows
            > conn.execute(
                "select count(*) from identity_journal where identity_id = ? and day = ?",
                [gone, days[-1]],
            ).fetchone()[0]
        )
        conn.execute("delete from identities where identity_id = ?", [gone])
    evaluations = run_checks(JOURNAL_CHECKS, warehouse, only=["journal_identities_exist"])
    check = evaluations["journal_identities_exist"]
    assert not check.passed
    assert check.metadata["scope_days"].value == 1
    assert check.metadata["failing_rows"].value == 1
    assert f"| {gone} | {rows} |" in check.metadata["first_failing_rows"].value


def test_the_coverage_check_reads_other_days_only_for_the_identities_the_placements_changed(
    built,
) -> None:
    """The journal rewrites rows on other days only for identities whose placements changed:
    an old row of an identity the day merely reached is the sweep's, not the daily check's."""
    warehouse, landing, days = built
    with warehouse.get_connection() as conn:
        run_day(conn, landing, days[-1])
        version = changes.latest_version(conn, "event_placements")
        moved = conn.execute(
            "select count(*) from change_identities where version = ?", [version]
        ).fetchall()[0][0]
        conn.execute(
            "delete from identity_journal where event_id = ("
            " select min(event_id) from identity_journal where day = $first and identity_id in"
            " (select identity_id from identity_journal where day = $last"
            "  except select identity_id from change_identities where version = $version))",
            {"first": days[0], "last": days[-1], "version": version},
        )
    covers = ["journal_covers_linked_events"]
    scoped = run_checks(JOURNAL_CHECKS, warehouse, only=covers)
    metadata = scoped["journal_covers_linked_events"].metadata
    assert scoped["journal_covers_linked_events"].passed
    assert (metadata["scope_days"].value, metadata["scope_identities"].value) == (1, moved)
    sweep = run_checks(JOURNAL_CHECKS, warehouse, everything=True, only=covers)
    assert not sweep["journal_covers_linked_events"].passed


def test_a_corrupted_old_row_is_the_sweeps_to_find(built) -> None:
    warehouse, landing, days = built
    with warehouse.get_connection() as conn:
        run_day(conn, landing, days[-1])
        (rows,) = conn.execute("select count(*) from identity_journal").fetchone()
        # a row of the first day, of an identity the last run did not touch
        conn.execute(
            "delete from identity_journal where event_id = ("
            " select min(event_id) from identity_journal where day = $first and identity_id not in"
            " (select identity_id from identity_journal where day = $last"
            "  union select identity_id from change_identities where version = $version))",
            {
                "first": days[0],
                "last": days[-1],
                "version": changes.latest_version(conn, "identity_journal"),
            },
        )
        assert conn.execute("select count(*) from identity_journal").fetchone()[0] == rows - 1
        conn.execute(
            "insert into raw_events select * from raw_events where day = ? limit 1", [days[0]]
        )
    scoped = run_checks([*JOURNAL_CHECKS, ingest_checks], warehouse, only=JOURNAL_AND_KEYS)
    assert all(passed(scoped).values())
    assert scoped["journal_covers_linked_events"].metadata["scope_days"].value == 1

    sweep = run_checks(
        [*JOURNAL_CHECKS, ingest_checks], warehouse, everything=True, only=JOURNAL_AND_KEYS
    )
    assert passed(sweep) == {
        "journal_covers_linked_events": False,
        "journal_identities_exist": True,
        "one_profile_per_identity": True,
        "one_row_per_event": False,
    }
    assert sweep["one_row_per_event"].metadata["scope"].value == "everything: a full sweep"


def test_a_changed_days_copy_of_an_old_event_is_found_by_its_key(built) -> None:
    warehouse, landing, days = built
    with warehouse.get_connection() as conn:
        run_day(conn, landing, days[-1])
        # an event of the first day stored again on the day the run changed
        conn.execute(
            "insert into raw_events select * replace (?::date as day) from raw_events "
            "where day = ? limit 1",
            [days[-1], days[0]],
        )
    evaluation = run_checks([ingest_checks], warehouse, only=["one_row_per_event"])[
        "one_row_per_event"
    ]
    assert not evaluation.passed
    assert evaluation.metadata["failing_rows"].value == 1


def test_a_failed_check_verifies_the_same_changes_again(built) -> None:
    warehouse, landing, days = built
    with warehouse.get_connection() as conn:
        run_day(conn, landing, days[-1])
        conn.execute(
            "insert into raw_events select * from raw_events where day = ? limit 1", [days[-1]]
        )
    assert passed(run_checks([ingest_checks], warehouse, only=["one_row_per_event"])) == {
        "one_row_per_event": False
    }
    # nothing new was ingested since, but the changes it failed on are still its to verify
    assert passed(run_checks([ingest_checks], warehouse, only=["one_row_per_event"])) == {
        "one_row_per_event": False
    }


def test_changed_parameters_verify_everything_once(built) -> None:
    warehouse, _, _ = built
    with warehouse.get_connection() as conn:
        (largest,) = conn.execute("select max(identifier_count) from identities").fetchone()
    evaluation = run_checks(
        [identity_checks],
        warehouse,
        max_identity_size=largest - 1,
        only=["largest_identity_within_limit"],
    )["largest_identity_within_limit"]
    assert not evaluation.passed
    assert evaluation.metadata["scope"].value == (
        "everything: its parameters or its stage's rules changed"
    )


def test_logs_are_kept_until_the_checks_have_read_them(built) -> None:
    warehouse, landing, days = built
    with warehouse.get_connection() as conn:
        run_day(conn, landing, days[-1])  # identity consumes the new raw_events version
        latest = changes.latest_version(conn, "raw_events")
        logged = "select count(*) from change_days where version = ?"
        assert conn.execute(logged, [latest]).fetchone()[0] == 1
    assert all(passed(run_checks([ingest_checks], warehouse)).values())
    with warehouse.get_connection() as conn:
        assert conn.execute(logged, [latest]).fetchone()[0] == 0


def test_the_sweep_job_runs_every_check_and_only_checks_weekly() -> None:
    definitions = build_definitions()
    job = definitions.resolve_job_def(SWEEP_JOB_NAME)
    assert job.run_tags[CHECK_SCOPE_TAG] == EVERYTHING
    check_keys = {key for check in definitions.asset_checks or [] for key in check.check_keys}
    assert job.asset_layer.asset_graph.asset_check_keys == check_keys
    assert not job.asset_layer.executable_asset_keys
    schedule = definitions.resolve_schedule_def("full_check_sweep_schedule")
    assert (schedule.job_name, schedule.cron_schedule) == (SWEEP_JOB_NAME, "0 4 * * 0")


def test_every_scoped_check_reads_a_log_that_waits_for_it() -> None:
    definitions = build_definitions()
    blocking = {
        spec.name
        for check in definitions.asset_checks or []
        for spec in check.check_specs
        if spec.blocking
    }
    scoped = {name for names in changes.CHECKS.values() for name in names}
    # segment membership is swapped whole each run: its check reads the whole table
    assert blocking - scoped == {"one_membership_per_identity_and_segment"}
    assert scoped <= blocking
