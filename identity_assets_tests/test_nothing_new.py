"""A run with nothing new changes nothing: the daily job run again on the same landed files
leaves every table of the warehouse as it was and queues no segment update, and metrics
computed again are the same to the last bit. Between runs every table's rows are stored again
in another order (`shuffle_rows`), so a result that depends on the order rows happen to be
stored in shows up on small data."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from identity_assets.ingest.core import landed_days
from identity_assets.metrics.value import forget_values, update_values
from identity_assets.sample import SampleConfig, write_sample

pytestmark = pytest.mark.heavy

# Just enough history (three horizons) and repeat buyers for the value models to be fitted and
# backtested, so a run takes a few seconds.
SAMPLE = SampleConfig(people=300, days=2, history_days=400)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """The sample landed and run through the daily job once: (landing, warehouse file, each
    asset's data version)."""
    root = tmp_path_factory.mktemp("nothing_new")
    landing, database = root / "landing", root / "identity.duckdb"
    write_sample(landing, SAMPLE)
    with pytest.MonkeyPatch.context() as monkeypatch:
        versions = run_daily_job(monkeypatch, landing, database)
    return landing, database, versions


def run_daily_job(monkeypatch: pytest.MonkeyPatch, landing: Path, database: Path) -> dict:
    """The daily job over every landed day, in this process, as `identity-assets run --all`
    runs it, without an API token (segment updates stay queued). Returns each asset's data
    version."""
    import dagster as dg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from identity_assets.definitions import DAILY_JOB_NAME, build_definitions

    monkeypatch.setenv("IDENTITY_LANDING_DIR", str(landing))
    monkeypatch.setenv("IDENTITY_DUCKDB_PATH", str(database))
    monkeypatch.delenv("IDENTITY_API_TOKEN", raising=False)
    days = landed_days(landing, date(2024, 1, 1))
    job = build_definitions().resolve_job_def(DAILY_JOB_NAME)
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags={
            ASSET_PARTITION_RANGE_START_TAG: days[0].isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: days[-1].isoformat(),
        },
    )
    assert result.success
    return {
        event.asset_key.to_user_string(): event.materialization.tags["dagster/data_version"]
        for event in result.get_asset_materialization_events()
    }


def snapshot(conn: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, str]]:
    """Every table's row count and a hash of its rows in sorted order, by table name. A row is
    hashed through its text form, in which a double is written in full (shortest round trip)."""
    tables = conn.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where database_name = current_database() order by 1"
    ).fetchall()
    hashes = {}
    for (table,) in tables:
        hashes[table] = conn.execute(
            "select count(*), "
            "md5(coalesce(string_agg(r::varchar, chr(10) order by r::varchar), '')) "
            f"from {table} as r"
        ).fetchall()[0]
    return hashes


def shuffle_rows(conn: duckdb.DuckDBPyConnection, seed: float = 0.5) -> None:
    """Store every table's rows again in another order, the same rows. On a few thousand rows
    DuckDB happens to keep one order from run to run; on a million, parallel inserts store
    rows in any order. Nothing may depend on it, and this makes small data show where
    something does."""
    conn.execute("select setseed(?)", [seed])
    tables = conn.execute(
        "select table_name from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'main' order by 1"
    ).fetchall()
    for (table,) in tables:
        conn.execute(f"create temp table shuffled as select * from {table} order by random()")
        conn.execute(f"delete from {table}")
        conn.execute(f"insert into {table} select * from shuffled")
        conn.execute("drop table shuffled")


def test_a_second_run_on_the_same_files_changes_no_table(first_run, tmp_path, monkeypatch):
    landing, database = first_run[0], tmp_path / "identity.duckdb"
    shutil.copy(first_run[1], database)
    with duckdb.connect(str(database)) as conn:
        before = snapshot(conn)
        shuffle_rows(conn)
        assert snapshot(conn) == before
    versions = run_daily_job(monkeypatch, landing, database)
    with duckdb.connect(str(database)) as conn:
        after = snapshot(conn)
    # and every materialization says so: its data version is the one of the first run
    assert versions == first_run[2] and len(versions) == 16
    # every table, bookkeeping included: a run that finds nothing new stamps nothing either
    changed = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    assert changed == []
    queued = before["main.segment_updates"][0]
    assert queued > 0 and after["main.segment_updates"][0] == queued


def test_metrics_computed_again_on_the_same_warehouse_are_the_same(first_run, tmp_path) -> None:
    database = tmp_path / "identity.duckdb"
    shutil.copy(first_run[1], database)
    with duckdb.connect(str(database)) as conn:
        tables = ("main.customer_metrics", "main.customer_value")
        before = {t: h for t, h in snapshot(conn).items() if t in tables}
        fits = []
        for seed in (0.1, 0.9):
            shuffle_rows(conn, seed)
            forget_values(conn)  # computed again from the journal, not kept as they are
            fits.append(update_values(conn).fit)
            assert {t: h for t, h in snapshot(conn).items() if t in tables} == before
    assert fits[0] == fits[1] and fits[0].gamma_gamma
