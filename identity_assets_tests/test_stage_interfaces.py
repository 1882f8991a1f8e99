"""Each stage reads only its own tables and the assets it declares upstream."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import identity_assets
from identity_assets.definitions import defs

PACKAGE = Path(identity_assets.__file__).parent
STAGES = ("ingest", "identity", "journal", "metrics", "segments", "serving")
# The change protocol's tables are every stage's to read and write (decision 0006).
SHARED = {"change_versions", "change_days", "change_identities", "stage_progress", "stage_rules"}
_CREATED = re.compile(r"create table if not exists (\w+)", re.I)
_READ = re.compile(r"\b(?:from|join|into|update|using)\s+(\w+)", re.I)
# Names a file defines for itself: common table expressions and temp tables.
_LOCAL = re.compile(r"(?:\b(\w+)\s+as\s+\(|temp table (\w+))", re.I)


def _read_by(stage: str) -> set[str]:
    """Every name a stage's SQL and Python read from, less the names each file defines."""
    read = set()
    for path in sorted((PACKAGE / stage).rglob("*")):
        if path.suffix not in (".sql", ".py"):
            continue
        text = path.read_text()
        local = {name.lower() for pair in _LOCAL.findall(text) for name in pair if name}
        read |= {name.lower() for name in _READ.findall(text)} - local
    return read


def _tables_of(stage: str) -> set[str]:
    """The warehouse tables the stage creates (serving creates none: its snapshot is a file of
    its own)."""
    script = PACKAGE / stage / "sql" / "create_tables.sql"
    return set(_CREATED.findall(script.read_text())) if script.exists() else set()


def _declared_upstream() -> dict[str, set[str]]:
    graph = defs.resolve_asset_graph()
    upstream: dict[str, set[str]] = defaultdict(set)
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        upstream[node.group_name] |= {parent.to_user_string() for parent in node.parent_keys}
    return upstream


def test_no_stage_reads_another_stages_table_it_does_not_declare() -> None:
    owned = {stage: _tables_of(stage) for stage in STAGES}
    every_table = set().union(*owned.values())
    upstream = _declared_upstream()
    undeclared = {}
    for stage in STAGES:
        read = _read_by(stage) & every_table
        foreign = read - owned[stage] - upstream[stage] - SHARED
        if foreign:
            undeclared[stage] = sorted(foreign)
    assert undeclared == {}


def test_the_check_would_see_an_undeclared_read() -> None:
    read = {n.lower() for n in _READ.findall("select * from identifier_sightings")}
    assert "identifier_sightings" in read & _tables_of("identity")
    assert "identifier_sightings" not in _declared_upstream()["journal"]
