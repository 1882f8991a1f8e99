"""When the pipeline runs by itself: a daily schedule, and a sensor for files that land late.

The schedule runs `daily_pipeline` for the day that just ended (in `IDENTITY_TIMEZONE`), at
`IDENTITY_SCHEDULE_CRON`. The sensor compares each already-ingested day's landing folder with
what `raw_files` recorded and re-runs a day whose files changed (a late file, a re-delivery),
with everything downstream. Both are on by default when the Dagster daemon runs.
"""

import hashlib
from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from identity_assets.ingest.core import changed_since_ingest, day_files
from identity_assets.resources import LandingDirectory, Warehouse
from identity_assets.settings import first_day, schedule_cron, timezone


def build_schedule(job_name: str) -> dg.ScheduleDefinition:
    """The daily schedule of the job: yesterday's partition, once its day is over."""

    @dg.schedule(
        job_name=job_name,
        cron_schedule=schedule_cron(),
        execution_timezone=timezone(),
        name="daily_pipeline_schedule",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every day, ingest the day that just ended and refresh everything downstream.",
    )
    def daily_pipeline_schedule(context: dg.ScheduleEvaluationContext, landing: LandingDirectory):
        now = context.scheduled_execution_time.astimezone(ZoneInfo(timezone()))
        day = now.date() - timedelta(days=1)
        if day < first_day():
            return dg.SkipReason(f"{day} is before IDENTITY_FIRST_DAY ({first_day()})")
        files, _ = day_files(landing.root, day)
        if not files:
            return dg.SkipReason(f"no exports landed for {day} in {landing.root}")
        return dg.RunRequest(run_key=f"daily-{day}", partition_key=day.isoformat())

    return daily_pipeline_schedule


# The weekly maintenance jobs, Sundays: the compaction first, so the sweep reads what it made.
COMPACTION_CRON = "0 3 * * 0"
SWEEP_CRON = "0 4 * * 0"


def build_weekly_schedule(job_name: str, cron: str, what: str) -> dg.ScheduleDefinition:
    """`<job>_schedule`: a weekly maintenance job at `cron`; `what` it does, for the UI."""
    return dg.ScheduleDefinition(
        name=f"{job_name}_schedule",
        job_name=job_name,
        cron_schedule=cron,
        execution_timezone=timezone(),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Every week, {what}.",
    )


def build_late_files_sensor(job_name: str) -> dg.SensorDefinition:
    """The sensor that re-runs an already-ingested day when its files change."""

    @dg.sensor(
        job_name=job_name,
        name="late_files_sensor",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Re-run a day (and everything downstream) when files land in it late.",
    )
    def late_files_sensor(
        context: dg.SensorEvaluationContext, warehouse: Warehouse, landing: LandingDirectory
    ):
        try:
            conn = duckdb.connect(warehouse.database, read_only=True)
        except duckdb.Error as busy:
            return dg.SkipReason(f"the warehouse cannot be read now ({busy}); next tick")
        try:
            changed = changed_since_ingest(conn, landing.root, first_day())
        except duckdb.CatalogException:
            return dg.SkipReason("nothing ingested yet")
        finally:
            conn.close()
        if not changed:
            return dg.SkipReason("no ingested day has new or changed files")
        for day, files in changed.items():
            context.log.info(f"{day}: {', '.join(files)}")
        return [
            dg.RunRequest(
                run_key=f"late-{day}-{hashlib.md5(repr(files).encode()).hexdigest()[:12]}",
                partition_key=day.isoformat(),
                tags={"identity_assets/reason": f"late files: {', '.join(files)}"[:200]},
            )
            for day, files in sorted(changed.items())
        ]

    return late_files_sensor
