"""A day's checkpoint merges no row groups; the weekly compaction merges them and drops deleted
rows (decision 0035), and folds the snapshot's recent journal rows (decision 0036)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from identity_assets import compaction
from identity_assets.definitions import COMPACTION_JOB_NAME, build_definitions
from identity_assets.resources import Warehouse
from identity_assets.writers import WAREHOUSE_TAG, WRITE

# A day of rows: less than half a DuckDB row group (122,880 rows), so two days fit in one.
DAY_ROWS = 50_000


def _land_day(conn: duckdb.DuckDBPyConnection, day: int) -> None:
    conn.execute(
        "insert into days select $day, range, repeat('x', 40) from range($rows)",
        {"day": day, "rows": DAY_ROWS},
    )
    conn.execute("checkpoint")


def _row_groups(conn: duckdb.DuckDBPyConnection) -> int:
    return conn.execute(
        "select count(distinct row_group_id) from pragma_storage_info('days')"
    ).fetchone()[0]


def _warehouse_of_days(path: Path, days: int) -> Warehouse:
    warehouse = Warehouse(database=str(path))
    with warehouse.get_connection() as conn:
        conn.execute("create table days (day integer, n bigint, payload varchar)")
        for day in range(days):
            _land_day(conn, day)
    return warehouse


def test_a_days_checkpoint_leaves_the_earlier_days_row_groups_as_they_were(tmp_path) -> None:
    warehouse = _warehouse_of_days(tmp_path / "identity.duckdb", 3)
    with warehouse.get_connection() as conn:
        # DuckDB's own default would have merged the first two days into one row group
        assert _row_groups(conn) == 3
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        # DuckDB's default setting merges: four days of 50,000 rows become two row groups
        _land_day(conn, 3)
        assert _row_groups(conn) == 2


def test_the_compaction_merges_row_groups_and_drops_deleted_rows(tmp_path) -> None:
    warehouse = _warehouse_of_days(tmp_path / "identity.duckdb", 4)
    with warehouse.get_connection() as conn:
        conn.execute("delete from days where day = 0 and n % 2 = 0")
        conn.execute("checkpoint")
        rows = conn.execute("select count(*), sum(n), min(payload) from days").fetchone()
        done = compaction.compact(conn)
        assert (done.before.row_groups, done.before.deleted_rows) == (4, DAY_ROWS // 2)
        # 175,000 rows left: two row groups, nothing deleted kept
        assert (done.after.row_groups, done.after.deleted_rows) == (2, 0)
        assert done.after.used_bytes < done.before.used_bytes
        assert conn.execute("select count(*), sum(n), min(payload) from days").fetchone() == rows
        # and merging is off again for the days that follow
        _land_day(conn, 4)
        assert _row_groups(conn) == 3


@pytest.mark.heavy
def test_the_compaction_job_queues_as_a_writer_weekly_and_reports_what_it_did(tmp_path) -> None:
    definitions = build_definitions()
    job = definitions.resolve_job_def(COMPACTION_JOB_NAME)
    assert job.tags[WAREHOUSE_TAG] == WRITE
    schedule = definitions.resolve_schedule_def("warehouse_compaction_schedule")
    assert (schedule.job_name, schedule.cron_schedule) == (COMPACTION_JOB_NAME, "0 3 * * 0")

    warehouse = _warehouse_of_days(tmp_path / "identity.duckdb", 2)
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), resources={"warehouse": warehouse}
    )
    assert result.success
    outputs = {
        event.step_key: event.event_specific_data.metadata
        for event in result.all_node_events
        if event.event_type_value == "STEP_OUTPUT"
    }
    metadata = outputs["compact_warehouse"]
    assert (metadata["row_groups_before"].value, metadata["row_groups_after"].value) == (2, 1)
    # no snapshot published here: nothing to fold (the fold itself: serving/test_snapshot.py)
    assert outputs["fold_serving_snapshot"]["rows"].value == 0
