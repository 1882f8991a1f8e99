"""Dagster's SQLite event log over connections that stay open, one per database file.

Dagster's own SQLite event log makes a new engine and connection for every read or write and
closes them after. A run stores about 230 events and reads the latest materialisations about
100 times, so each run paid for a thousand connections, statements compiled again for every
new engine, and a checkpoint of the write-ahead log at each close: 3.2 of an empty run's 6.7 s.
This storage keeps Dagster's files, tables and lock and only keeps each file's connection
open. After each write to a run's file it checkpoints that file, so the `.db` file changes
with every event, which is what Dagster's file watcher (the UI's live view of a run) looks for.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as db
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData

# Run files whose connection stays open besides the index's: a run writes its own file and the
# UI reads a few; a webserver that has shown a thousand runs must not hold a thousand files.
OPEN_RUN_FILES = 8


class KeptOpenSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with its connections kept open. Its `base_dir` is the Dagster
    home (DAGSTER_HOME unless given), as in `storage: sqlite: base_dir`: the files are where
    Dagster's own are."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: dict
    ) -> KeptOpenSqliteEventLogStorage:
        home = config_value.get("base_dir") or os.environ.get("DAGSTER_HOME")
        if not home:
            raise dg.DagsterInvalidConfigError(
                "the event log is kept in the Dagster home: set DAGSTER_HOME (`make` sets "
                "it to .dagster_home), or give event_log_storage a base_dir",
                [],
                None,
            )
        return cls(os.path.join(home, "history", "runs"), inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn
                if shard != INDEX_SHARD_NAME:
                    conn.connection.dbapi_connection.execute("pragma wal_checkpoint(passive)")

    def _engine(self, shard: str) -> db.Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = db.create_engine(
                self.conn_string_for_shard(shard),
                pool_size=1,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._engines[shard] = engine
        self._engines.move_to_end(shard)
        run_files = [name for name in self._engines if name != INDEX_SHARD_NAME]
        for name in run_files[:-OPEN_RUN_FILES]:
            self._engines.pop(name).dispose()
        return engine

    def _close_all(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_all()
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()
