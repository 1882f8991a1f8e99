"""Shared fixtures: a landing directory to write exports into and an in-memory warehouse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from identity_assets_tests.builders import Landing, connect

# The partitions start at the earliest landed day unless this is set; tests land days of
# 2025-2026 in many directories, so they fix the first day (the CLI processes inherit it).
os.environ.setdefault("IDENTITY_FIRST_DAY", "2024-01-01")


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    root = tmp_path / "landing"
    root.mkdir()
    return Landing(root)


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory warehouse on which the checks' queries verify whole tables."""
    from identity_assets.checks import scope_everything

    connection = connect()
    scope_everything(connection)
    yield connection
    connection.close()


# Fixtures and helpers that start a process (a CLI, the stand-in API): a test that uses one is
# `slow` without saying so itself, so `make test-fast` (-m "not slow and not heavy") leaves
# it out. `heavy` tests say so themselves.
_PROCESS_FIXTURES = {"stand_in", "ran", "dagster_daemon"}
_PROCESS_HELPERS = ("run_cli(", "running(", "processes.", "subprocess.", "Popen(")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that start processes `slow`, and hand out their modules early, each next
    to a module that keeps the processor busy, the heaviest first: a slow module mostly waits
    for its processes, and a long module started last keeps the other worker idle at the end
    (`make test` hands out whole modules, so a module's shared fixtures are built once)."""
    import inspect
    from collections import Counter
    from itertools import chain, zip_longest

    for item in items:
        uses_fixture = _PROCESS_FIXTURES & set(getattr(item, "fixturenames", ()))
        function = getattr(item, "function", None)
        source = inspect.getsource(function) if function is not None else ""
        if uses_fixture or any(helper in source for helper in _PROCESS_HELPERS):
            item.add_marker(pytest.mark.slow)
    modules = list(dict.fromkeys(item.path for item in items))
    waiting = {item.path for item in items if item.get_closest_marker("slow")}
    heavy = Counter(item.path for item in items if item.get_closest_marker("heavy"))
    busy = sorted((m for m in modules if m not in waiting), key=lambda m: -heavy[m])
    pairs = zip_longest([m for m in modules if m in waiting], busy[: len(waiting)])
    order = [*chain.from_iterable(pairs), *busy[len(waiting) :]]
    place = {module: n for n, module in enumerate(m for m in order if m is not None)}
    items.sort(key=lambda item: place[item.path])
