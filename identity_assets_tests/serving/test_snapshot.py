"""The serving snapshot: published after the journal when its inputs moved, a new version made
of what changed, switched atomically, checked against the warehouse, and read without it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pytest

from identity_assets import sql
from identity_assets.checks import CHECK_SCOPE_TAG, EVERYTHING
from identity_assets.identity.assets import resolve_identity_graph
from identity_assets.identity.normalise import uid2_hash
from identity_assets.ingest.assets import ingest_landed_days
from identity_assets.journal.assets import build_journals
from identity_assets.journal.lookup import find_identity, journal_response, profile_response
from identity_assets.resources import (
    FullRefresh,
    IdentityRulesResource,
    Warehouse,
)
from identity_assets.serving import snapshot
from identity_assets.serving.assets import serving_snapshot, snapshot_checks
from identity_assets.serving.snapshot import (
    POINTER,
    Folded,
    Pointer,
    SnapshotSource,
    _connect,
    _writer,
    compared,
    fold,
    open_current,
    read_pointer,
)
from identity_assets_tests.builders import (
    D1,
    D2,
    D3,
    Landing,
    identity_of,
    materialized_metadata,
    pipeline_resources,
    run_checks,
    track,
)
from identity_assets_tests.processes import running

pytestmark = pytest.mark.heavy

ASSETS = [ingest_landed_days, resolve_identity_graph, build_journals, serving_snapshot]
CHECKS = [snapshot_checks]


class Pipeline:
    """The stages up to the snapshot over a landing directory, one day at a time."""

    def __init__(
        self, tmp_path: Path, landing: Landing, phone_region: str = "US", serving: str = "serving"
    ) -> None:
        self.landing = landing
        self.warehouse = Warehouse(database=str(tmp_path / "data" / "identity.duckdb"))
        self.serving = tmp_path / "data" / serving
        self.instance = dg.DagsterInstance.ephemeral()
        self.resources = pipeline_resources(
            self.warehouse,
            landing.root,
            identity_rules=IdentityRulesResource(phone_region=phone_region),
        )

    def run(
        self, day: date, events: list[dict] | None = None, refresh: str = "", checks: bool = True
    ) -> dg.ExecuteInProcessResult:
        if events is not None:
            self.landing.write(f"{day}.jsonl", events, day=day)
        result = dg.materialize(
            [*ASSETS, *CHECKS] if checks else ASSETS,
            resources={**self.resources, "full_refresh": FullRefresh(from_stage=refresh)},
            partition_key=day.isoformat(),
            instance=self.instance,
        )
        assert result.success
        return result


def _files(root: Path) -> dict[str, int]:
    """The snapshot files and the pointer (readers touch the WAL's shared-memory index)."""
    return {
        path.name: path.stat().st_mtime_ns
        for path in root.iterdir()
        if not path.name.endswith(("-wal", "-shm"))
    }


def test_a_run_publishes_a_snapshot_that_answers_as_the_warehouse(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    result = pipeline.run(D1, [track(1, D1, userId="u-1", email="Ann@Example.com")])
    pointer = read_pointer(pipeline.serving)
    metadata = materialized_metadata(result)["serving_snapshot"]
    assert metadata["published"].value is True
    assert metadata["version"].value == pointer.version > 0
    assert metadata["mode"].value == "full"
    assert pointer.file == f"{pointer.version}.sqlite"
    assert pointer.counts == {"identity_journal": 1, "customer_profiles": 1, "identity_map": 2}
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"snapshot_counts_match": True, "every_identity_served": True}
    with pipeline.warehouse.get_connection() as conn:
        expected = journal_response(conn, "email", " ann@example.COM")
    with open_current(pipeline.serving) as (opened, conn):
        assert opened == pointer
        assert journal_response(conn, "email", " ann@example.COM") == expected
        # an email's UID2 hash finds the same journal in the snapshot
        assert journal_response(conn, "email", uid2_hash("ann@example.com")) == expected
        assert conn.execute("select version, phone_region from snapshot_info").fetchall() == [
            (pointer.version, "US")
        ]
    assert expected[0] == 200


def test_a_run_with_nothing_new_writes_nothing(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1")])
    before = _files(pipeline.serving)
    result = pipeline.run(D1)
    assert _files(pipeline.serving) == before
    assert materialized_metadata(result)["serving_snapshot"]["published"].value is False


def test_new_versions_apply_what_changed_to_the_published_file(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    people = [track(n, D1, userId=f"u-{n}", email=f"p{n}@example.com") for n in range(6)]
    pipeline.run(D1, people)
    first = read_pointer(pipeline.serving)
    # one new person and one known person again: two identities change, the other five stay
    result = pipeline.run(D2, [track(1, D2, userId="u-new"), track(2, D2, userId="u-3")])
    pointer = read_pointer(pipeline.serving)
    metadata = materialized_metadata(result)["serving_snapshot"]
    assert metadata["mode"].value == "changes"
    assert metadata["changed_identities"].value == 2
    assert pointer.version > first.version and pointer.file == first.file
    assert sorted(p.name for p in pipeline.serving.glob("*.sqlite")) == [first.file]
    assert [p.name for p in pipeline.serving.iterdir() if p.name.startswith(".")] == []
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"snapshot_counts_match": True, "every_identity_served": True}
    with open_current(pipeline.serving) as (opened, conn):
        assert opened == pointer
        assert conn.execute("select version from snapshot_info").fetchall() == [(pointer.version,)]
        assert conn.execute("select count(*) from customer_profiles").fetchall() == [(7,)]
        assert conn.execute("select count(*) from identity_journal").fetchall() == [(8,)]


def test_a_full_refresh_builds_a_new_file_and_keeps_the_last_two(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    files = []
    for n, day in enumerate((D1, D2, D3)):
        result = pipeline.run(day, [track(n, day, userId=f"u-{n}")], refresh="serving")
        assert materialized_metadata(result)["serving_snapshot"]["mode"].value == "full"
        files.append(read_pointer(pipeline.serving).file)
    assert files == sorted(set(files), key=files.index)
    assert sorted(p.name for p in pipeline.serving.glob("*.sqlite")) == sorted(files[1:])
    assert [p.name for p in pipeline.serving.iterdir() if p.name.startswith(".")] == []
    with open_current(pipeline.serving) as (pointer, conn):
        assert pointer.file == files[-1]
        assert conn.execute("select count(*) from customer_profiles").fetchall() == [(3,)]


def _contents(root: Path) -> dict[str, list]:
    """Every row of every table of the published snapshot, but its stamp and the part of the
    index a journal row is in (a version writes the recent part, a new file the folded one), in
    a fixed order."""
    with open_current(root) as (_, conn):
        return {
            table: conn.execute(f"select {columns} from {table} order by 1, 2, 3").fetchall()
            for table, columns in (
                ("identity_journal", _JOURNAL_CONTENT),
                ("customer_profiles", "*"),
                ("identity_map", "*"),
            )
        }


_JOURNAL_CONTENT = (
    "identity_id, occurred_us, event_id, source, kind, event_name, payload, created_at, day"
)


def test_a_version_made_of_changes_equals_one_built_anew(tmp_path, landing) -> None:
    """Merges, a new identifier, a person coming back: applied in place, the snapshot holds what
    a snapshot built from scratch over the same warehouse holds."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(
        D1,
        [
            track(1, D1, userId="u-1", email="ann@example.com"),
            track(2, D1, userId="u-2", email="bob@example.com"),
            track(3, D1, anonymousId="a-3", device="d-3"),
            track(4, D1, userId="u-4"),
        ],
    )
    # u-2 joins u-1 through ann's email; a-3 gains a user id; u-4 comes back; a newcomer
    changed = [
        track(1, D2, userId="u-2", email="ann@example.com"),
        track(2, D2, anonymousId="a-3", userId="u-3"),
        track(3, D2, userId="u-4", phone="+1 415 555 0100"),
        track(4, D2, userId="u-5"),
    ]
    result = pipeline.run(D2, changed)
    assert materialized_metadata(result)["serving_snapshot"]["mode"].value == "changes"
    applied = _contents(pipeline.serving)
    in_place = read_pointer(pipeline.serving)
    pipeline.run(D2, refresh="serving")
    assert _contents(pipeline.serving) == applied
    # the same version built anew gets a name of its own, never meeting the old file's WAL
    rebuilt = read_pointer(pipeline.serving)
    assert rebuilt.version == in_place.version and rebuilt.file != in_place.file
    with open_current(pipeline.serving) as (_, conn):
        # a-3 gained a user id: both find one identity
        assert find_identity(conn, "anonymous_id", "a-3") == find_identity(conn, "user_id", "u-3")
    with pipeline.warehouse.get_connection() as conn:
        profiles = conn.execute("select count(*) from customer_profiles").fetchall()[0][0]
    assert len(applied["customer_profiles"]) == profiles


def test_rows_a_merge_moves_on_other_days_take_their_identity_in_place(tmp_path, landing) -> None:
    """Two people of the first day turn out to be one: the row of the absorbed one on that day
    follows the journal's log of moved rows in place, as a snapshot built anew holds it."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, anonymousId="a-1"), track(2, D1, userId="u-1")])
    result = pipeline.run(D2, [track(1, D2, anonymousId="a-1", userId="u-1")])
    assert materialized_metadata(result)["serving_snapshot"]["mode"].value == "changes"
    with pipeline.warehouse.get_connection() as conn:
        moved = conn.execute("select day, identity_id from change_rows").fetchall()
        (survivor,) = conn.execute("select distinct identity_id from identity_journal").fetchall()
    assert moved == [(D1, survivor[0])]
    applied = _contents(pipeline.serving)
    assert {row[0] for row in applied["identity_journal"]} == {survivor[0]}
    pipeline.run(D2, refresh="serving")
    assert _contents(pipeline.serving) == applied


def test_a_snapshot_behind_moves_logged_before_the_log_existed_is_built_anew(
    tmp_path, landing
) -> None:
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, anonymousId="a-1"), track(2, D1, userId="u-1")])
    landing.write(f"{D2}.jsonl", [track(1, D2, anonymousId="a-1", userId="u-1")], day=D2)
    dg.materialize(
        ASSETS[:-1],
        resources={**pipeline.resources, "full_refresh": FullRefresh()},
        partition_key=D2.isoformat(),
        instance=pipeline.instance,
    )
    # the journal moved a row before the warehouse had change_rows
    with pipeline.warehouse.get_connection() as conn:
        conn.execute("delete from change_rows")
        conn.execute(
            "update stage_rules set rules = (select max(version) from change_versions)::varchar "
            "where stage = 'change_rows'"
        )
    result = pipeline.run(D2)
    assert materialized_metadata(result)["serving_snapshot"]["mode"].value == "full"
    with pipeline.warehouse.get_connection() as conn:
        (survivor,) = conn.execute("select distinct identity_id from identity_journal").fetchall()
    assert {row[0] for row in _contents(pipeline.serving)["identity_journal"]} == {survivor[0]}


def _published_then_damaged(tmp_path, landing, statement: str) -> tuple[Pipeline, Pointer]:
    """Two people published, then `statement` run on the snapshot behind the pipeline's back."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1"), track(2, D1, userId="u-2")])
    pointer = read_pointer(pipeline.serving)
    with sqlite3.connect(pipeline.serving / pointer.file) as conn:
        conn.execute(statement)
    return pipeline, pointer


def test_changes_the_snapshot_cannot_take_build_it_anew(tmp_path, landing) -> None:
    """A snapshot whose changed rows no longer add up to the warehouse's (here the profile of
    an identity the run changes, lost) is not patched: the next version is built from
    scratch, and passes its checks."""
    pipeline, pointer = _published_then_damaged(
        tmp_path, landing, "delete from customer_profiles where rowid = 1"
    )
    result = pipeline.run(D2, [track(3, D2, userId="u-1"), track(4, D2, userId="u-2")])
    metadata = materialized_metadata(result)["serving_snapshot"]
    assert metadata["mode"].value == "full"
    assert read_pointer(pipeline.serving).file != pointer.file
    assert all(e.passed for e in result.get_asset_check_evaluations())


def test_a_moved_row_the_snapshot_lacks_builds_it_anew(tmp_path, landing) -> None:
    """The journal logs a row of the first day as moved, and the snapshot no longer holds it
    there: the version is out of step, so it is not applied and the file is built anew."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, anonymousId="a-1"), track(2, D1, userId="u-1")])
    with sqlite3.connect(pipeline.serving / read_pointer(pipeline.serving).file) as conn:
        conn.execute(f"delete from identity_journal where day = '{D1}'")
    result = pipeline.run(D2, [track(1, D2, anonymousId="a-1", userId="u-1")])
    assert materialized_metadata(result)["serving_snapshot"]["mode"].value == "full"
    assert {row[-1] for row in _contents(pipeline.serving)["identity_journal"]} == {
        D1.isoformat(),
        D2.isoformat(),
    }


def test_an_identifier_the_snapshot_holds_elsewhere_builds_it_anew(tmp_path, landing) -> None:
    """The snapshot's recent part holds an identifier the day brings, under an identity the run
    does not change: writing it breaks the part's key (the driver's IntegrityError), so the
    version is not applied and the file is built anew."""
    pipeline, _ = _published_then_damaged(
        tmp_path,
        landing,
        "insert into identity_map_recent values ('user_id', 'u-3', 'someone-else', null)",
    )
    result = pipeline.run(D2, [track(3, D2, userId="u-3")])
    assert materialized_metadata(result)["serving_snapshot"]["mode"].value == "full"
    with open_current(pipeline.serving) as (_, conn):
        assert find_identity(conn, "user_id", "u-3") != "someone-else"


def test_a_version_writes_only_the_rows_that_differ(tmp_path, landing) -> None:
    """People back for a day with the same identifiers and traits leave their identifiers and
    profiles as they are; a new identifier and a newcomer are written."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(n, D1, userId=f"u-{n}", email=f"p{n}@example.com") for n in range(4)])
    result = pipeline.run(
        D2,
        [
            track(1, D2, userId="u-1", email="p1@example.com"),
            track(2, D2, userId="u-2", email="p2@example.com", phone="+1 415 555 0100"),
            track(3, D2, userId="u-new"),
        ],
    )
    metadata = materialized_metadata(result)["serving_snapshot"]
    assert metadata["mode"].value == "changes"
    assert metadata["changed_identities"].value == 3
    # u-2's phone and the newcomer's user id; nothing of u-1's identifiers
    assert metadata["rows_written"].value["identity_map"] == 2
    assert metadata["rows_removed"].value["identity_map"] == 0
    assert metadata["rows_written"].value["identity_journal"] == 3
    assert all(e.passed for e in result.get_asset_check_evaluations())


def test_the_snapshot_answers_exactly_as_the_warehouse(tmp_path, landing) -> None:
    """Journals (whole, limited, within a range) and profiles read from the snapshot are the
    warehouse's answers, to the byte."""
    pipeline = Pipeline(tmp_path, landing)
    events = [track(n, D1, userId="u-1", email="ann@example.com") for n in range(5)]
    events[2]["event"] = "Order Completed"
    events[2]["properties"] = {"order_id": "o-7", "value": 12.5}
    pipeline.run(D1, events)
    pipeline.run(D2, [track(9, D2, userId="u-1"), track(10, D2, userId="u-2")])
    asked = [
        ("email", "ann@example.com", {}),
        ("user_id", "u-1", {"limit": 2}),
        ("user_id", "u-1", {"since": datetime(2026, 11, 18, 10, 0, 2)}),
        ("user_id", "u-1", {"until": datetime(2026, 11, 18, 10, 0, 3), "limit": 1}),
        ("user_id", "u-2", {}),
        ("user_id", "nobody", {}),
    ]
    profile = {
        "identifiers": {"email": "ann@example.com"},
        "attributes": ["email", "name"],
        "events": {
            "start_date": 0,
            "end_date": 4_102_444_800,
            "wanted": [
                {"event_name": "order_completed", "params": ["order_id", "value", "timestamp"]},
                {"event_name": "Product Viewed", "params": ["timestamp"]},
            ],
        },
    }
    with pipeline.warehouse.get_connection() as conn:
        expected = [journal_response(conn, kind, value, **how) for kind, value, how in asked]
        expected_profile = profile_response(conn, profile)
    with open_current(pipeline.serving) as (_, conn):
        assert [journal_response(conn, kind, value, **how) for kind, value, how in asked] == (
            expected
        )
        assert profile_response(conn, profile) == expected_profile
    assert [status for status, _ in expected] == [200, 200, 200, 200, 200, 404]
    assert len(expected_profile[1]["events"]["order_completed"]) == 1


def _answers_of(conn) -> list:
    """u-1's journal whole, limited across both parts of the index and within a range, and
    ann's profile events, from the snapshot or the warehouse."""
    asked = [{}, {"limit": 2}, {"since": datetime(2026, 11, 18, 10, 0, 2), "limit": 3}]
    profile = {
        "identifiers": {"user_id": "u-1"},
        "attributes": ["email"],
        "events": {
            "start_date": 0,
            "end_date": 4_102_444_800,
            "wanted": [{"event_name": "Product Viewed", "params": ["timestamp"]}],
        },
    }
    return [journal_response(conn, "user_id", "u-1", **how) for how in asked] + [
        profile_response(conn, profile)
    ]


def _answers(pipeline: Pipeline) -> list:
    """`_answers_of` the published snapshot."""
    with open_current(pipeline.serving) as (_, conn):
        return _answers_of(conn)


def _parts(pipeline: Pipeline) -> dict[int, int]:
    with open_current(pipeline.serving) as (_, conn):
        return dict(conn.execute("select recent, count(*) from identity_journal group by 1"))


def test_a_version_writes_the_recent_part_of_the_index_and_the_fold_folds_it(
    tmp_path, landing
) -> None:
    """A new file's journal rows are in the folded part of the index by identity, a version's
    in the recent part; look-ups read both, and folding changes no answer (decision 0036)."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(n, D1, userId="u-1", email="ann@example.com") for n in range(4)])
    assert _parts(pipeline) == {0: 4}
    result = pipeline.run(D2, [track(9, D2, userId="u-1"), track(10, D2, userId="u-2")])
    assert _parts(pipeline) == {0: 4, 1: 2}
    # what the next fold will fold, reported by each run, one with nothing new too
    assert materialized_metadata(result)["serving_snapshot"]["recent_journal_rows"].value == 2
    again = materialized_metadata(pipeline.run(D2))["serving_snapshot"]
    assert (again["published"].value, again["recent_journal_rows"].value) == (False, 2)
    pointer = read_pointer(pipeline.serving)
    with pipeline.warehouse.get_connection() as conn:
        expected = _answers_of(conn)[:3]
    answers = _answers(pipeline)
    assert answers[:3] == expected
    # the limit of two takes the newest entry from the recent part, the next from the folded
    journals = [json.loads(body)["data"]["journal"] for _, body in answers[:2]]
    assert len(journals[0]) == 5 and journals[1] == journals[0][:2]
    folded = fold(pipeline.serving)
    assert folded.rows == 2
    assert _parts(pipeline) == {0: 6}
    assert _answers(pipeline) == answers
    assert read_pointer(pipeline.serving) == pointer
    assert fold(pipeline.serving).rows == 0
    again = materialized_metadata(pipeline.run(D2))["serving_snapshot"]
    assert again["recent_journal_rows"].value == 0
    # the next version writes the recent part of the same file again
    result = pipeline.run(D3, [track(11, D3, userId="u-1")])
    assert materialized_metadata(result)["serving_snapshot"]["mode"].value == "changes"
    assert _parts(pipeline) == {0: 6, 1: 1}


def _map_parts(pipeline: Pipeline) -> dict[str, list]:
    with open_current(pipeline.serving) as (_, conn):
        return {
            part: conn.execute(
                f"select identifier_type, identifier_value, identity_id from {part} order by 1, 2"
            ).fetchall()
            for part in ("identity_map_folded", "identity_map_recent")
        }


def _identities_found(conn, asked: list[tuple[str, str]]) -> list[str | None]:
    return [find_identity(conn, kind, value) for kind, value in asked]


def test_a_version_writes_new_identifiers_to_the_recent_part_and_the_fold_folds_them(
    tmp_path, landing
) -> None:
    """A new file's identifiers are in the identity map's folded part, those a version writes in
    its recent part; look-ups (by identifier, by UID2 hash) read both, and folding changes no
    answer (decision 0039)."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1", email="ann@example.com")])
    assert [len(rows) for rows in _map_parts(pipeline).values()] == [2, 0]
    # bob and a visitor are new; u-1 gains a phone
    result = pipeline.run(
        D2,
        [
            track(2, D2, userId="u-2", email="bob@example.com"),
            track(3, D2, userId="u-1", phone="+14155550100"),
            track(4, D2, anonymousId="a-5"),
        ],
    )
    folded, recent = _map_parts(pipeline).values()
    assert len(folded) == 2
    assert [(kind, value) for kind, value, _ in recent] == [
        ("anonymous_id", "a-5"),
        ("email", "bob@example.com"),
        ("phone", "+14155550100"),
        ("user_id", "u-2"),
    ]
    metadata = materialized_metadata(result)["serving_snapshot"]
    assert metadata["recent_identifier_rows"].value == 4
    asked = [
        ("email", "ann@example.com"),
        ("email", uid2_hash("bob@example.com")),
        ("phone", "+14155550100"),
        ("user_id", "u-2"),
        ("user_id", "nobody"),
    ]
    with pipeline.warehouse.get_connection() as conn:
        expected = _identities_found(conn, asked)
    assert expected[-1] is None and None not in expected[:-1]
    with open_current(pipeline.serving) as (_, conn):
        assert _identities_found(conn, asked) == expected
    done = fold(pipeline.serving)
    assert done.identifiers == 4
    folded_now, recent_now = _map_parts(pipeline).values()
    assert (folded_now, recent_now) == (sorted(folded + recent), [])
    with open_current(pipeline.serving) as (_, conn):
        assert _identities_found(conn, asked) == expected
    assert fold(pipeline.serving).identifiers == 0
    # the visitor turns out to be ann: an identity's identifiers take another identity, leaving
    # the folded part for the recent one
    result = pipeline.run(D3, [track(5, D3, anonymousId="a-5", email="ann@example.com")])
    assert materialized_metadata(result)["serving_snapshot"]["mode"].value == "changes"
    folded, recent = _map_parts(pipeline).values()
    in_folded = {(kind, value) for kind, value, _ in folded}
    assert recent and not in_folded & {(kind, value) for kind, value, _ in recent}
    asked = [("anonymous_id", "a-5"), *asked]
    with pipeline.warehouse.get_connection() as conn:
        expected = _identities_found(conn, asked)
    assert expected[0] == expected[1]
    with open_current(pipeline.serving) as (_, conn):
        assert _identities_found(conn, asked) == expected


def test_look_ups_of_the_identity_map_read_each_part_by_its_index(tmp_path, landing) -> None:
    """Through the view over the identity map's two parts, a look-up by identifier, by UID2
    hash and a check's count per identity each probe both parts' indexes: none reads a part
    whole (a look-up by hash did, in key order, before the file had its planner statistics)."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(n, D1, userId=f"u-{n}", email=f"p{n}@example.com") for n in range(9)])
    pipeline.run(
        D2, [track(n, D2, userId=f"u-{n}", email=f"p{n}@example.com") for n in range(9, 19)]
    )
    queries = {
        "identifier": (
            "select identity_id from identity_map "
            "where identifier_type = $type and identifier_value = $value",
            "PRIMARY KEY (identifier_type=? AND identifier_value=?)",
        ),
        "hash": (sql.load("serving/lookup_identity_by_uid2_hash"), "by_uid2_hash"),
        "count": (
            " union all ".join(
                sql.load("serving/snapshot_changed_counts").format(
                    table=part, name="identity_map", column="identity_id", keys="keys", label="i"
                )
                for part in ("identity_map_folded", "identity_map_recent")
            ),
            "by_identity (identity_id=?)",
        ),
    }
    with open_current(pipeline.serving) as (_, conn):
        conn.execute("create temp table keys (key text primary key)")
        for name, (query, index) in queries.items():
            plan = [
                row[3]
                for row in conn.execute(
                    f"explain query plan {query}", {"type": "email", "value": "x"}
                )
            ]
            searched = [step for step in plan if step.startswith("SEARCH identity_map_")]
            assert len(searched) == 2 and all(index in step for step in searched), (name, plan)
            assert not any(step.startswith("SCAN identity_map_") for step in plan), (name, plan)


def test_a_limited_journal_look_up_reads_each_part_of_the_index_in_order(tmp_path) -> None:
    """Each part of the index by identity is read in its order, up to the limit; only the two
    parts' rows are sorted together, never a whole journal."""
    snap = sqlite3.connect(tmp_path / "plan.sqlite")
    snap.executescript(sql.load("serving/snapshot_tables"))
    snap.executescript(sql.load("serving/snapshot_indexes"))
    plan = [
        row[3]
        for row in snap.execute(
            f"explain query plan {sql.load('serving/lookup_journal')}",
            {"id": "x", "since": None, "until": None, "limit": 20},
        )
    ]
    index = "USING INDEX identity_journal_by_identity (recent=? AND identity_id=?)"
    assert sum(index in step for step in plan) == 2
    assert sum("TEMP B-TREE" in step for step in plan) == 1
    snap.close()


# A file of each older layout, made from one of the current layout: before the identity map
# had two parts (layout 1), and before the journal's index had two either (layout 0).
_ONE_MAP = (
    "create table map as select * from identity_map;"
    "drop view identity_map; drop table identity_map_folded; drop table identity_map_recent;"
    "create table identity_map (identifier_type text not null, identifier_value text not null,"
    " identity_id text not null, uid2_hash text,"
    " primary key (identifier_type, identifier_value)) without rowid;"
    "insert into identity_map select * from map; drop table map;"
    "create index identity_map_by_identity on identity_map (identity_id);"
)
_ONE_JOURNAL_INDEX = (
    "drop index identity_journal_by_identity;"
    "alter table identity_journal drop column recent;"
    "create index identity_journal_by_identity "
    "on identity_journal (identity_id, occurred_us, event_id);"
)
_OLDER_LAYOUTS = {1: _ONE_MAP, 0: _ONE_MAP + _ONE_JOURNAL_INDEX}


@pytest.mark.parametrize("layout", sorted(_OLDER_LAYOUTS))
def test_a_snapshot_of_an_older_layout_answers_and_the_next_version_builds_it_anew(
    tmp_path, landing, layout
) -> None:
    """A file published before the index or the identity map had two parts: readers answer
    from it as they did, the fold leaves it alone, and the next version is a new file of the
    current layout."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(n, D1, userId="u-1", email="ann@example.com") for n in range(4)])
    answers = _answers(pipeline)
    asked = [("user_id", "u-1"), ("email", uid2_hash("ann@example.com"))]
    with open_current(pipeline.serving) as (_, conn):
        found = _identities_found(conn, asked)
    with sqlite3.connect(pipeline.serving / read_pointer(pipeline.serving).file) as conn:
        conn.executescript(_OLDER_LAYOUTS[layout] + f"pragma user_version = {layout};")
    assert _answers(pipeline) == answers
    with open_current(pipeline.serving) as (_, conn):
        assert _identities_found(conn, asked) == found
    assert fold(pipeline.serving) == Folded(0, 0.0)
    # a run with nothing new keeps the file, and its checks read it as it is
    again = pipeline.run(D1)
    assert materialized_metadata(again)["serving_snapshot"]["mode"].value == "none"
    assert all(check.passed for check in again.get_asset_check_evaluations())
    result = pipeline.run(D2, [track(9, D2, userId="u-2")])
    assert materialized_metadata(result)["serving_snapshot"]["mode"].value == "full"
    assert _parts(pipeline) == {0: 5}
    assert [len(rows) for rows in _map_parts(pipeline).values()] == [3, 0]
    assert _answers(pipeline) == answers


# A look-up service in a process of its own, as `identity-assets serve` is: it leases the current
# version, says which and how many identifiers it sees, waits for a line, and reads again.
_READER = """
import sys
from identity_assets.serving.snapshot import SnapshotSource
source = SnapshotSource(sys.argv[1])
with source.lease() as (pointer, conn):
    for _ in range(2):
        print(pointer.version, conn.execute("select count(*) from identity_map").fetchall()[0][0])
        sys.stdout.flush()
        sys.stdin.readline()
source.close()
"""


def test_a_reader_finishes_on_its_version_while_new_reads_see_the_next(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1")])
    command = [sys.executable, "-c", _READER, str(pipeline.serving)]
    with running(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as reader:
        old, seen = map(int, reader.stdout.readline().split())
        assert seen == 1
        # two more versions committed while the reader is in the middle of the first
        pipeline.run(D2, [track(2, D2, userId="u-2")])
        pipeline.run(D3, [track(3, D3, userId="u-3")])
        source = SnapshotSource(pipeline.serving)
        try:
            with source.lease() as (new, new_conn):
                assert new.version > old
                assert new_conn.execute("select count(*) from identity_map").fetchall() == [(3,)]
            assert source.current_pointer().version == new.version
        finally:
            source.close()
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert list(map(int, reader.stdout.readline().split())) == [old, 1]


_COUNTER = """
import sqlite3, sys
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(conn.execute("select count(*) from identity_journal").fetchall()[0][0])
"""


def test_a_version_is_checkpointed_behind_the_run_and_a_reader_waits_for_it(
    tmp_path, landing, monkeypatch
) -> None:
    """A version's pages are still only in the write-ahead log when publish returns, and other
    processes read the version from there; the writer copies them into the file in a thread of
    its own, and a reader in the same process waits for it."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1")])
    gate = threading.Event()
    checkpoint = snapshot._checkpoint

    def held(*args) -> None:
        gate.wait(timeout=60)
        checkpoint(*args)

    monkeypatch.setattr(snapshot, "_checkpoint", held)
    pipeline.run(D2, [track(2, D2, userId="u-2")], checks=False)
    pointer = read_pointer(pipeline.serving)
    path = pipeline.serving / pointer.file
    assert _rows_in_the_file_alone(path, tmp_path / "copy.sqlite") == 1
    counted = subprocess.run(
        [sys.executable, "-c", _COUNTER, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert counted.stdout == "2\n", counted.stderr
    threading.Timer(0.2, gate.set).start()
    with open_current(pipeline.serving) as (opened, conn):
        assert gate.is_set()
        assert opened == pointer
        assert conn.execute("select count(*) from identity_journal").fetchall() == [(2,)]
    assert _rows_in_the_file_alone(path, tmp_path / "copy.sqlite") == 2
    # nor does a large commit checkpoint in the writer, as SQLite would past 1,000 pages
    with _writer(path) as writer:
        writer.execute("pragma wal_autocheckpoint")
        assert writer.fetchall() == [(0,)]


def _rows_in_the_file_alone(path: Path, copy: Path) -> int:
    """The journal rows the snapshot file holds without its write-ahead log."""
    shutil.copyfile(path, copy)
    with closing(sqlite3.connect(copy)) as conn:
        count = conn.execute("select count(*) from identity_journal").fetchall()[0][0]
    for companion in (copy, copy.with_name(f"{copy.name}-wal"), copy.with_name(f"{copy.name}-shm")):
        companion.unlink(missing_ok=True)
    return count


def test_the_checks_find_a_snapshot_that_differs_from_the_warehouse(tmp_path, landing) -> None:
    pipeline, _ = _published_then_damaged(
        tmp_path,
        landing,
        "delete from customer_profiles "
        "where identity_id = (select min(identity_id) from customer_profiles)",
    )
    # the damage is to what the last run's checks verified already: the sweep's to find
    evaluations = run_checks(CHECKS, pipeline.warehouse, everything=True)
    counts, served = evaluations["snapshot_counts_match"], evaluations["every_identity_served"]
    assert not counts.passed and counts.description.startswith("1 row count(s)")
    assert not served.passed and served.description.startswith("1 identity(ies)")


def _damaged_after_a_day(tmp_path, landing, statement: str) -> Pipeline:
    """u-0, u-1 and u-2 published on D1, u-1 and u-2 back on D2 (its checks not run yet), then
    `statement` run on the snapshot with the identities of D2 as `$changed`."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(n, D1, userId=f"u-{n}") for n in range(3)])
    pipeline.run(D2, [track(5, D2, userId="u-1"), track(6, D2, userId="u-2")], checks=False)
    with sqlite3.connect(pipeline.serving / read_pointer(pipeline.serving).file) as conn:
        conn.execute(
            "create temp table changed as select distinct identity_id "
            f"from identity_journal where day = '{D2}'"
        )
        conn.execute(statement)
    return pipeline


def test_a_row_lost_from_what_the_run_applied_fails_the_scoped_check(tmp_path, landing) -> None:
    pipeline = _damaged_after_a_day(
        tmp_path,
        landing,
        f"delete from identity_journal where day = '{D2}' "
        "and identity_id = (select min(identity_id) from temp.changed)",
    )
    scoped = run_checks(CHECKS, pipeline.warehouse)
    assert {name: e.passed for name, e in scoped.items()} == {
        "snapshot_counts_match": False,
        "every_identity_served": True,
    }
    counts = scoped["snapshot_counts_match"].metadata
    assert counts["scope"].value.startswith("changes of serving_snapshot versions")
    assert (counts["scope_days"].value, counts["scope_identities"].value) == (1, 2)
    assert counts["failing_rows"].value == 1


def test_a_row_lost_from_what_no_run_touched_is_the_sweeps_to_find(tmp_path, landing) -> None:
    pipeline = _damaged_after_a_day(
        tmp_path,
        landing,
        "delete from customer_profiles "
        "where identity_id not in (select identity_id from temp.changed)",
    )
    daily = run_checks(CHECKS, pipeline.warehouse)
    assert [e.passed for e in daily.values()] == [True, True]
    assert daily["every_identity_served"].metadata["scope_identities"].value == 2
    sweep = run_checks(CHECKS, pipeline.warehouse, everything=True)
    assert {name: e.passed for name, e in sweep.items()} == {
        "snapshot_counts_match": False,
        "every_identity_served": False,
    }
    assert sweep["every_identity_served"].metadata["failing_rows"].value == 1


def test_the_snapshot_keeps_the_phone_region_it_was_built_with(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing, phone_region="GB")
    pipeline.run(D1, [track(1, D1, userId="u-1", phone="020 7946 0018")])
    pointer = json.loads((pipeline.serving / POINTER).read_text())
    assert pointer["phone_region"] == "GB"
    with open_current(pipeline.serving) as (opened, conn):
        status, _ = journal_response(conn, "phone", "020 7946 0018", opened.phone_region)
    assert status == 200


def test_a_look_up_before_any_publish_says_what_to_do(tmp_path) -> None:
    source = SnapshotSource(tmp_path / "serving")
    assert source.current_pointer() is None
    with (
        pytest.raises(RuntimeError, match="run `identity-assets run --all` first"),
        open_current(tmp_path / "serving"),
    ):
        pass


def test_the_two_checks_run_in_one_step_and_either_alone(tmp_path, landing) -> None:
    """Both blocking checks are one step (its fixed cost paid once), each shown and recorded
    on its own; a run that selects one runs only that one."""
    assert [(spec.name, spec.blocking) for spec in snapshot_checks.check_specs] == [
        ("snapshot_counts_match", True),
        ("every_identity_served", True),
    ]
    pipeline, _ = _published_then_damaged(
        tmp_path, landing, "delete from customer_profiles where rowid = 1"
    )
    key = dg.AssetCheckKey(dg.AssetKey("serving_snapshot"), "every_identity_served")
    result = dg.materialize(
        CHECKS,
        selection=dg.AssetSelection.checks(key),
        resources={"warehouse": pipeline.warehouse},
        tags={CHECK_SCOPE_TAG: EVERYTHING},
        raise_on_error=False,
    )
    assert {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()} == {
        "every_identity_served": False
    }


def test_each_check_reads_from_the_snapshot_only_what_its_query_needs(tmp_path, landing) -> None:
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1")])
    made = "select table_name from duckdb_tables() where temporary order by table_name"
    with (
        pipeline.warehouse.get_connection() as conn,
        open_current(pipeline.serving) as (_, snap),
    ):
        with compared(conn, snap, counts=True, identities=False):
            assert conn.execute(made).fetchall() == [("snapshot_counts",)]
        with compared(conn, snap, counts=False, identities=True):
            assert conn.execute(made).fetchall() == [
                ("snapshot_identifiers",),
                ("snapshot_profiles",),
            ]
        assert conn.execute(made).fetchall() == []


def test_checks_that_stage_the_same_identities_copy_them_once(tmp_path, landing) -> None:
    """The snapshot's checks of a run stage the same identities: the second keeps the first's
    copy, and other identities replace it."""
    pipeline = Pipeline(tmp_path, landing)
    pipeline.run(D1, [track(1, D1, userId="u-1"), track(2, D1, userId="u-2")])
    copies: list[str] = []
    with (
        pipeline.warehouse.get_connection() as conn,
        open_current(pipeline.serving) as (_, snap),
    ):
        snap.set_trace_callback(
            lambda statement: (
                copies.append(statement)
                if statement.startswith("insert into temp.check_identities")
                else None
            )
        )
        one, other = (identity_of(conn, "user_id", user) for user in ("u-1", "u-2"))
        conn.execute("create or replace temp table check_days as select ?::date as day", [D1])
        served = "select identity_id from snapshot_profiles"
        for staged, expected_copies in ((one, 1), (one, 1), (other, 2)):
            conn.execute(
                "create or replace temp table check_identities as select ? as identity_id",
                [staged],
            )
            with compared(conn, snap, scoped=True, counts=False):
                assert conn.execute(served).fetchall() == [(staged,)]
            assert len(copies) == expected_copies


def test_the_writer_reads_text_after_a_thousand_nulls_as_text(tmp_path) -> None:
    """The changed profiles a version compares may lack a trait in their first rows."""
    path = tmp_path / "snapshot.sqlite"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("create table t (k integer, v text)")
        conn.executemany(
            "insert into t values (?, ?)", [(n, "late" if n >= 2000 else None) for n in range(3000)]
        )
    with _writer(path) as writer:
        writer.execute("select v from t order by k")
        read = writer.fetch_arrow_table()
    assert read.column("v").null_count == 2000
    assert read.column("v").to_pylist()[-1] == "late"


# Another process holding the snapshot's write lock for a moment, as a fold or a reader's
# checkpoint may.
_LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("begin immediate")
print("locked", flush=True)
time.sleep(1)
conn.execute("rollback")
"""


def test_the_writer_waits_for_a_lock_another_process_holds_a_moment(tmp_path) -> None:
    path = tmp_path / "snapshot.sqlite"
    sqlite3.connect(path).close()
    command = [sys.executable, "-c", _LOCKER, str(path)]
    with running(command, stdout=subprocess.PIPE, text=True) as locker:
        assert locker.stdout.readline() == "locked\n"
        with _writer(path) as writer:
            writer.execute("begin immediate")
            writer.execute("commit")


def test_the_writer_of_a_version_caches_what_it_dirties(tmp_path) -> None:
    """SQLite's 2 MiB default spills a version's dirty index pages to the WAL mid-transaction;
    the writer's cache holds 1 GiB, a reader keeps the default."""
    path = tmp_path / "snapshot.sqlite"
    sqlite3.connect(path).close()
    with _writer(path) as writer:
        writer.execute("pragma cache_size")
        assert writer.fetchall() == [(-(1 << 20),)]
    with closing(_connect(path)) as reader:
        assert reader.execute("pragma cache_size").fetchall() == [(-2000,)]
