"""The instance's event log over kept-open connections: Dagster's files and tables, each event
on disk for the UI's watcher as it is written, and few files open however many runs are read."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log import SqliteEventLogStorage

from identity_assets.event_log import OPEN_RUN_FILES, KeptOpenSqliteEventLogStorage
from identity_assets_tests.builders import ROOT


def _event(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None, level="INFO", user_message=message, run_id=run_id, timestamp=time.time()
    )


def _messages(storage: SqliteEventLogStorage, run_id: str) -> list[str]:
    return [entry.user_message for entry in storage.get_logs_for_run(run_id)]


def test_the_project_instance_reads_and_writes_dagster_s_own_event_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    dagsters = SqliteEventLogStorage(str(home / "history" / "runs"))
    dagsters.store_event(_event("before", "written by Dagster's storage"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        ours = instance.event_log_storage
        assert isinstance(ours, KeptOpenSqliteEventLogStorage)
        assert _messages(ours, "before") == ["written by Dagster's storage"]
        ours.store_event(_event("after", "one"))
        ours.store_event(_event("after", "two"))
    assert _messages(dagsters, "after") == ["one", "two"]


def test_without_a_dagster_home_the_instance_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as `dagster dev` started in the project's folder without DAGSTER_HOME makes it
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    ref = InstanceRef.from_dir(str(tmp_path), config_dir=str(ROOT))
    with pytest.raises(dg.DagsterInvalidConfigError, match="set DAGSTER_HOME"):
        dg.DagsterInstance.from_ref(ref)


def test_a_watcher_sees_each_event_while_the_writer_keeps_its_file_open(tmp_path: Path) -> None:
    writer = KeptOpenSqliteEventLogStorage(str(tmp_path))
    watcher = SqliteEventLogStorage(str(tmp_path))
    writer.store_event(_event("run", "one"))
    seen: list[str] = []
    both = threading.Event()

    def callback(entry: EventLogEntry, _cursor: str) -> None:
        seen.append(entry.user_message)
        if len(seen) == 2:
            both.set()

    watcher.watch("run", None, callback)
    try:
        writer.store_event(_event("run", "two"))
        assert both.wait(timeout=20), f"the watcher saw {seen}"
    finally:
        watcher.end_watch("run", callback)
        watcher.dispose()
        writer.dispose()
    assert seen == ["one", "two"]


def test_reading_many_runs_keeps_the_latest_few_files_open(tmp_path: Path) -> None:
    storage = KeptOpenSqliteEventLogStorage(str(tmp_path))
    runs = [f"run-{n:02d}" for n in range(OPEN_RUN_FILES + 5)]
    for run_id in runs:
        storage.store_event(_event(run_id, run_id))

    def open_run_files() -> set[str]:
        paths = [Path(f.path) for f in psutil.Process().open_files()]
        return {p.stem for p in paths if p.parent == tmp_path and p.suffix == ".db"} - {"index"}

    assert open_run_files() == set(runs[-OPEN_RUN_FILES:])
    storage.wipe()
    assert open_run_files() == set()
    storage.store_event(_event("again", "after the wipe"))
    assert _messages(storage, "again") == ["after the wipe"]
    storage.dispose()
    assert open_run_files() == set()
