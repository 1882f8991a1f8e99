"""What a run's fixed cost depends on: the warehouse held open for the run, and the
definitions loading without what only some runs need (benchmarks/startup.py measures it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

from identity_assets.resources import Warehouse


def test_the_warehouse_stays_open_for_the_run(tmp_path: Path) -> None:
    database = tmp_path / "identity.duckdb"
    wal = Path(f"{database}.wal")
    warehouse = Warehouse(database=str(database))
    warehouse.setup_for_execution(dg.build_init_resource_context())
    try:
        with warehouse.get_connection() as conn:
            conn.execute("create table t as select 1 as x")
        # a step's connection closed, the database did not: nothing was checkpointed yet
        assert wal.exists()
        with warehouse.get_connection() as conn:
            assert conn.execute("select x from t").fetchall() == [(1,)]
    finally:
        warehouse.teardown_after_execution(dg.build_init_resource_context())
    assert not wal.exists()  # checkpointed once, when the run ended


def test_the_definitions_load_without_scipy() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, identity_assets.definitions; print(sorted(sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "'identity_assets.definitions'" in loaded
    assert "'scipy'" not in loaded
