"""The Definitions load, and name what the output contract fixes."""

from identity_assets.definitions import DAILY_JOB_NAME, defs
from identity_assets.metadata import code_version, source_digest


def test_definitions_load_with_the_contract_table_names() -> None:
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "raw_events",
        "raw_event_rejects",
        "identifiers",
        "identity_map",
        "identities",
        "identity_merges",
        "identity_journal",
        "customer_profiles",
        "customer_metrics",
        "customer_value",
        "segment_membership",
        "segment_updates",
    } <= keys


def test_the_daily_job_is_partitioned_by_day_and_runs_in_process() -> None:
    job = defs.resolve_job_def(DAILY_JOB_NAME)
    assert job.partitions_def is not None
    assert job.partitions_def.get_first_partition_key() == "2024-01-01"
    assert job.executor_def.name == "in_process"


def test_every_asset_has_a_group_description_and_column_schema() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name, key
        assert node.description, key
        # every asset is a warehouse table but the serving snapshot, a DuckDB file of its own
        if key.to_user_string() != "serving_snapshot":
            assert "dagster/column_schema" in node.metadata, key


def test_every_asset_carries_its_stages_code_version() -> None:
    graph = defs.resolve_asset_graph()
    versions = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.code_version == code_version(node.group_name), key
        versions[node.group_name] = node.code_version
    assert len(set(versions.values())) == len(versions) == 6


def test_a_changed_sql_file_changes_the_code_version(tmp_path) -> None:
    (tmp_path / "journal" / "sql").mkdir(parents=True)
    query = tmp_path / "journal" / "sql" / "insert_day.sql"
    query.write_text("select 1")
    (tmp_path / "journal" / "notes.txt").write_text("not code")
    before = source_digest(tmp_path, ("journal",))
    (tmp_path / "journal" / "notes.txt").write_text("still not code")
    assert source_digest(tmp_path, ("journal",)) == before
    query.write_text("select 2")
    assert source_digest(tmp_path, ("journal",)) != before


def test_each_stage_runs_its_checks_in_one_step_before_what_reads_its_tables() -> None:
    job = defs.resolve_job_def(DAILY_JOB_NAME)
    steps = {node.name for node in job.graph.nodes}
    asset_steps = {
        "ingest_landed_days",
        "resolve_identity_graph",
        "build_journals",
        "value_customers",
        "segment_membership",
        "segment_updates",
        "serving_snapshot",
    }
    check_steps = {
        "ingest_checks",
        "identity_checks",
        "journal_checks",
        "metrics_checks",
        "segment_membership_checks",
        "segment_updates_checks",
        "snapshot_checks",
    }
    # besides these, one step holds Dagster's column-schema check of every table
    assert asset_steps | check_steps <= steps and len(steps) == 15
    upstream = job.graph.dependency_structure.input_to_upstream_outputs_for_node
    # the membership checks gate delivery: segment_updates waits for their step
    feeding_delivery = {
        output.node_name for outputs in upstream("segment_updates").values() for output in outputs
    }
    assert "segment_membership_checks" in feeding_delivery
