"""Checks on segments: membership must be sound; undelivered updates warn."""

import dagster as dg

from identity_assets.checks import failing_rows_check
from identity_assets.resources import SegmentRulesResource, Warehouse


@dg.asset_check(asset="segment_membership", blocking=True)
def one_membership_per_identity_and_segment(warehouse: Warehouse) -> dg.AssetCheckResult:
    """An identity is in a segment at most once, and only known identities are members."""
    return failing_rows_check(
        warehouse, "segments/check_one_membership", "membership row(s) doubled or unknown"
    )


@dg.asset_check(asset="segment_updates")
def segment_updates_delivered(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Warns, listing them, about updates not delivered yet (they are retried next run)."""
    return failing_rows_check(
        warehouse,
        "segments/check_updates_delivered",
        "segment update(s) not delivered yet",
        severity=dg.AssetCheckSeverity.WARN,
    )


@dg.asset_check(asset="segment_membership")
def every_segment_has_members(
    warehouse: Warehouse, segment_rules: SegmentRulesResource
) -> dg.AssetCheckResult:
    """Warns, naming them, about segments whose condition matches nobody on the data."""
    return failing_rows_check(
        warehouse,
        "segments/check_segments_have_members",
        "segment(s) with no member",
        params={"segments": [segment.name for segment in segment_rules.segments()]},
        severity=dg.AssetCheckSeverity.WARN,
    )
