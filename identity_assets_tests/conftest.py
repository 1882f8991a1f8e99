"""Shared fixtures: a landing directory to write exports into and an in-memory warehouse."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

DAY = date(2026, 11, 20)

# The partitions start at the earliest landed day unless this is set; tests land days of
# 2025-2026 in many directories, so they fix the first day (the CLI processes inherit it).
os.environ.setdefault("IDENTITY_FIRST_DAY", "2024-01-01")


class Landing:
    """A landing directory under tmp_path that tests write export files into."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, lines: list[object], day: date = DAY, *, raw: bool = False) -> Path:
        """Write `lines` (JSON-encoded unless `raw`) to `<day>/<name>`; `.gz` names are gzipped."""
        path = self.root / day.isoformat() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join((line if raw else json.dumps(line)) + "\n" for line in lines)
        if name.endswith(".gz"):
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
        return path


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    root = tmp_path / "landing"
    root.mkdir()
    return Landing(root)


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory warehouse on which the checks' queries verify whole tables."""
    from identity_assets.checks import scope_everything

    connection = duckdb.connect()
    scope_everything(connection)
    yield connection
    connection.close()


def materialized_metadata(result) -> dict[str, dict]:
    """Each materialized asset's metadata, by asset name, from a Dagster execution result."""
    return {
        m.materialization.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }


# Fixtures and helpers that start a process (a CLI, the stand-in API): a test that uses one is
# `slow` without saying so itself, so `make test-fast` (-m "not slow") leaves it out.
_PROCESS_FIXTURES = {"stand_in"}
_PROCESS_HELPERS = ("run_cli(", "subprocess.", "Popen(")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    import inspect

    for item in items:
        uses_fixture = _PROCESS_FIXTURES & set(getattr(item, "fixturenames", ()))
        function = getattr(item, "function", None)
        source = inspect.getsource(function) if function is not None else ""
        if uses_fixture or any(helper in source for helper in _PROCESS_HELPERS):
            item.add_marker(pytest.mark.slow)
