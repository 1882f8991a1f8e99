"""The daily partitions: one per landing folder day, from `IDENTITY_FIRST_DAY` (when unset, the
earliest landed day) to today, in `IDENTITY_TIMEZONE` (default UTC)."""

import dagster as dg

from identity_assets.settings import first_day, timezone

# end_offset=1 includes today, so files landing during the day can be ingested the same day.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=first_day().isoformat(), end_offset=1, timezone=timezone()
)
