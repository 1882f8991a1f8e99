"""The one Definitions object: every asset, check, job and resource of identity_assets.

The command line, the UI and the schedules all load this, so there is one code path.
"""

import warnings

import dagster as dg

from identity_assets import compaction
from identity_assets.checks import CHECK_SCOPE_TAG, EVERYTHING
from identity_assets.configuration import check_configuration
from identity_assets.identity.assets import resolve_identity_graph
from identity_assets.identity.checks import identity_checks
from identity_assets.ingest.assets import ingest_landed_days
from identity_assets.ingest.checks import ingest_checks
from identity_assets.journal.assets import build_journals
from identity_assets.journal.checks import journal_checks
from identity_assets.metrics.assets import value_customers
from identity_assets.metrics.checks import metrics_checks
from identity_assets.resources import (
    FullRefresh,
    Warehouse,
    identifier_api_from_env,
    identity_rules_from_env,
    landing_from_env,
    segment_rules_from_env,
    value_rules_from_env,
    warehouse_from_env,
)
from identity_assets.schedules import (
    COMPACTION_CRON,
    SWEEP_CRON,
    build_late_files_sensor,
    build_schedule,
    build_weekly_schedule,
)
from identity_assets.segments.assets import segment_membership, segment_updates
from identity_assets.segments.checks import delivery_checks, membership_checks
from identity_assets.serving.assets import serving_root, serving_snapshot, snapshot_checks
from identity_assets.serving.snapshot import fold
from identity_assets.writers import WAREHOUSE_TAG, WRITE

DAILY_JOB_NAME = "daily_pipeline"
SWEEP_JOB_NAME = "full_check_sweep"
COMPACTION_JOB_NAME = "warehouse_compaction"

daily_pipeline = dg.define_asset_job(
    DAILY_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Ingest a day (or a range of days) of landed exports and everything downstream.",
    executor_def=dg.in_process_executor,
    # every run of the job, however launched, is a warehouse writer: the queue runs one at a time
    run_tags={WAREHOUSE_TAG: WRITE},
)

# The daily run's blocking checks verify only what it changed; this job runs every check over
# whole tables, weekly and on demand (decision 0016). A check that passes records how far it
# verified, so the job writes to the warehouse and queues like any writer.
full_check_sweep = dg.define_asset_job(
    SWEEP_JOB_NAME,
    selection=dg.AssetSelection.all_asset_checks(),
    description="Run every asset check over whole tables, not just what the last runs changed.",
    executor_def=dg.in_process_executor,
    run_tags={WAREHOUSE_TAG: WRITE, CHECK_SCOPE_TAG: EVERYTHING},
)


@dg.op(description="Merge the warehouse's partly filled row groups and drop its deleted rows.")
def compact_warehouse(context: dg.OpExecutionContext, warehouse: Warehouse) -> dg.Output[None]:
    """A daily run's checkpoints merge no row groups (`compaction`); this does it for every
    table at once. It writes the warehouse, so it queues like any writer."""
    with warehouse.get_connection() as conn:
        done = compaction.compact(conn)
    context.log.info(
        f"compaction: {done.before.row_groups:,} row groups to {done.after.row_groups:,}, "
        f"deleted rows kept {done.before.deleted_rows:,} to {done.after.deleted_rows:,}, "
        f"in {done.seconds:.1f}s"
    )
    return dg.Output(
        None,
        metadata={
            "row_groups_before": done.before.row_groups,
            "row_groups_after": done.after.row_groups,
            "deleted_rows_before": done.before.deleted_rows,
            "deleted_rows_after": done.after.deleted_rows,
            "used_bytes_before": done.before.used_bytes,
            "used_bytes_after": done.after.used_bytes,
            "seconds": round(done.seconds, 2),
        },
    )


@dg.op(description="Fold the rows new versions wrote into the snapshot's large parts.")
def fold_serving_snapshot(context: dg.OpExecutionContext, warehouse: Warehouse) -> dg.Output[None]:
    """A day's version writes its journal rows and identifiers to small parts of the snapshot
    (decisions 0036, 0039); this moves them to the large parts. Only the serving stage and
    this write the snapshot, and both hold the warehouse's writer tag."""
    done = fold(serving_root(warehouse))
    context.log.info(
        f"serving snapshot: folded {done.rows:,} journal rows and {done.identifiers:,} "
        f"identifiers in {done.seconds:.1f}s"
    )
    return dg.Output(
        None,
        metadata={
            "rows": done.rows,
            "identifiers": done.identifiers,
            "seconds": round(done.seconds, 2),
        },
    )


@dg.job(
    name=COMPACTION_JOB_NAME,
    description=(
        "Weekly: merge partly filled row groups and drop deleted rows (decision 0035), and fold "
        "the snapshot's recent journal rows and identifiers into its large parts (decisions "
        "0036, 0039)."
    ),
    executor_def=dg.in_process_executor,
    tags={WAREHOUSE_TAG: WRITE},
)
def warehouse_compaction() -> None:
    compact_warehouse()
    fold_serving_snapshot()


# The assets that are warehouse tables, and then the serving snapshot, a file of its own.
TABLE_ASSETS = [
    ingest_landed_days,
    resolve_identity_graph,
    build_journals,
    value_customers,
    segment_membership,
    segment_updates,
]
ASSETS = [*TABLE_ASSETS, serving_snapshot]

# Each materialization records its table's columns as they are in the warehouse; these warn
# when they differ from the previous materialization's (a column added, removed or retyped).
# The factory is marked beta; tests pin the behaviour relied on here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    column_schema_changes = dg.build_column_schema_change_checks(assets=TABLE_ASSETS)


def build_definitions() -> dg.Definitions:
    """All definitions, with resources configured from the current environment, once every
    setting has been checked (`configuration`)."""
    check_configuration()
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=[
            *column_schema_changes,
            ingest_checks,
            identity_checks,
            journal_checks,
            metrics_checks,
            membership_checks,
            delivery_checks,
            snapshot_checks,
        ],
        jobs=[daily_pipeline, full_check_sweep, warehouse_compaction],
        schedules=[
            build_schedule(DAILY_JOB_NAME),
            build_weekly_schedule(
                COMPACTION_JOB_NAME,
                COMPACTION_CRON,
                "merge the warehouse's partly filled row groups and drop its deleted rows",
            ),
            build_weekly_schedule(
                SWEEP_JOB_NAME, SWEEP_CRON, "run every asset check over whole tables"
            ),
        ],
        sensors=[build_late_files_sensor(DAILY_JOB_NAME)],
        resources={
            "warehouse": warehouse_from_env(),
            "landing": landing_from_env(),
            "identity_rules": identity_rules_from_env(),
            "value_rules": value_rules_from_env(),
            "segment_rules": segment_rules_from_env(),
            "identifier_api": identifier_api_from_env(),
            "full_refresh": FullRefresh(),
        },
    )


defs = build_definitions()
