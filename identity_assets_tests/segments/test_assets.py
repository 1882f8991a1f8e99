"""The segment assets through Dagster: updates pushed, the story told, the token kept secret,
nothing sent when membership fails its check, a failed step retried."""

import socket
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from identity_assets.resources import IdentifierApi, SegmentRulesResource, Warehouse
from identity_assets.segments import assets
from identity_assets.segments.assets import segment_membership, segment_updates
from identity_assets.segments.checks import delivery_checks, membership_checks
from identity_assets.segments.outbox import deliver_updates
from identity_assets_tests.builders import TOKEN, materialized_metadata, valued_warehouse

pytestmark = pytest.mark.heavy

CHECKS = [membership_checks, delivery_checks]


def materialize(tmp_path: Path, api: IdentifierApi) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [segment_membership, segment_updates, *CHECKS],
        resources={
            "warehouse": Warehouse(database=str(tmp_path / "identity.duckdb")),
            "segment_rules": SegmentRulesResource(),
            "identifier_api": api,
        },
        raise_on_error=False,
    )


def test_updates_are_pushed_and_the_token_is_never_logged_or_stored(
    tmp_path: Path, stand_in, capfd
) -> None:
    server = stand_in("--fail-rate", "0.2")
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        valued_warehouse(conn, [1500, 2500, 20])
    result = materialize(tmp_path, IdentifierApi(url=server.url, token=TOKEN))
    assert result.success
    metadata = materialized_metadata(result)
    membership = metadata["segment_membership"]
    assert "| high_value_predicted | 2 |" in membership["segment_sizes"].value
    assert membership["dagster/row_count"].value == 2
    updates = metadata["segment_updates"]
    assert "| high_value_predicted entered | 2 |" in updates["changes_queued"].value
    assert updates["sent"].value == 2 and updates["failed"].value == 0
    assert {"retries", "rate_limited_429s", "updates_per_second"} <= set(updates)
    evaluations = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert {name: e.passed for name, e in evaluations.items()} == {
        "one_membership_per_identity_and_segment": True,
        "segment_updates_delivered": True,
        "every_segment_has_members": False,
    }
    empty = evaluations["every_segment_has_members"]
    assert empty.severity == dg.AssetCheckSeverity.WARN
    shown = empty.metadata["first_failing_rows"].value
    assert "lapsing_buyers" in shown and "new_customers" in shown
    assert "high_value_predicted" not in shown
    logged = "\n".join(str(event) for event in result.all_events) + str(capfd.readouterr())
    assert TOKEN not in logged
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        for (table,) in conn.execute("select table_name from duckdb_tables()").fetchall():
            assert TOKEN not in str(conn.execute(f"select * from {table}").fetchall()), table


def test_without_a_token_updates_wait_and_the_check_warns(tmp_path: Path, capfd) -> None:
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        valued_warehouse(conn, [1500])
    result = materialize(tmp_path, IdentifierApi(url="http://127.0.0.1:9/api/v1"))
    assert result.success
    assert "IDENTITY_API_TOKEN is not set" in capfd.readouterr().err
    (waiting,) = failed_checks(result)
    assert waiting.asset_check_key.name == "segment_updates_delivered"
    assert waiting.severity == dg.AssetCheckSeverity.WARN
    assert waiting.metadata["failing_rows"].value == 1


def test_a_refused_token_fails_the_step_with_the_apis_message(
    tmp_path: Path, stand_in, capfd
) -> None:
    server = stand_in()
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        valued_warehouse(conn, [1500])
    result = materialize(tmp_path, IdentifierApi(url=server.url, token="not-it"))
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "refused the token (401" in failure.step_failure_data.error.message
    assert failure.step_key == "segment_updates"
    assert not retries(result)  # another try would be refused too


def failed_checks(result: dg.ExecuteInProcessResult) -> list[dg.AssetCheckEvaluation]:
    """The checks that did not pass, but for the segments nobody is in (this data has some)."""
    return [
        e
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.asset_check_key.name != "every_segment_has_members"
    ]


def retries(result: dg.ExecuteInProcessResult) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


def test_a_ghost_member_fails_the_check_and_nothing_is_queued_or_sent(
    tmp_path: Path, stand_in
) -> None:
    server = stand_in()
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        valued_warehouse(conn, [1500, 2500])
        # metrics and a value for an identity that does not exist: it would join a segment
        conn.execute(
            "insert into customer_metrics by name select * replace ('ghost-1' as identity_id) "
            "from customer_metrics where identity_id = 'id-0'"
        )
        conn.execute(
            "insert into customer_value by name select * replace ('ghost-1' as identity_id) "
            "from customer_value where identity_id = 'id-0'"
        )
    result = materialize(tmp_path, IdentifierApi(url=server.url, token=TOKEN))
    (failed,) = failed_checks(result)
    assert failed.asset_check_key.name == "one_membership_per_identity_and_segment"
    assert failed.metadata["failing_rows"].value == 1
    assert not result.success
    assert not any(e.is_step_start for e in result.events_for_node("segment_updates"))
    assert set(materialized_metadata(result)) == {"segment_membership"}
    assert server.stats()["recorded"] == 0
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        assert conn.execute("select count(*) from segment_updates").fetchall() == [(0,)]


def test_a_delivery_step_that_fails_is_retried_and_sends_each_update_once(
    tmp_path: Path, stand_in, monkeypatch
) -> None:
    server = stand_in()
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        valued_warehouse(conn, [1500, 2500])
    calls = []

    def busy_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise duckdb.IOException("Could not set lock on file: the warehouse is busy")
        return deliver_updates(*args, **kwargs)

    monkeypatch.setattr(assets, "deliver_updates", busy_once)
    # the policy's full jitter waits a random share of its delay: draw no wait
    monkeypatch.setattr("dagster._core.definitions.policy.random", lambda: 0.0)
    result = materialize(tmp_path, IdentifierApi(url=server.url, token=TOKEN))
    assert result.success
    assert [e.step_key for e in retries(result)] == ["segment_updates"]
    assert materialized_metadata(result)["segment_updates"]["sent"].value == 2
    stats = server.stats()
    assert (stats["recorded"], stats["recorded_twice"]) == (2, 0)


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_api_costs_seconds_and_fails_the_step_once(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        valued_warehouse(conn, [1500] * 300)
    url = f"http://127.0.0.1:{closed_port()}/api/v1"
    started = time.perf_counter()
    result = materialize(tmp_path, IdentifierApi(url=url, token=TOKEN))
    assert time.perf_counter() - started < 15  # retrying every update took minutes
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "segment_updates"
    message = failure.step_failure_data.error.message
    assert "is unreachable: 5 requests in a row got no answer" in message
    assert "300 updates wait in segment_updates" in message
    assert not retries(result)  # a retry within minutes would not find it back either
    said = [e for e in result.all_events if e.step_key and "unreachable" in str(e)]
    assert len(said) == 1
    with duckdb.connect(str(tmp_path / "identity.duckdb")) as conn:
        assert conn.execute(
            "select status, count(*), count(dispatched_at) from segment_updates group by 1"
        ).fetchall() == [("pending", 300, 0)]
