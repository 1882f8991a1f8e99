"""Checks on journals and profiles: each blocks bad rows from reaching metrics and segments.

Each verifies the days and identities the journal changed since it last passed.
"""

import dagster as dg

from identity_assets.checks import changed_rows_check
from identity_assets.resources import Warehouse


@dg.asset_check(asset="identity_journal", blocking=True)
def journal_identities_exist(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """Every journal row belongs to an identity in `identities`."""
    return changed_rows_check(
        context,
        warehouse,
        "identity_journal",
        "journal/check_journal_identity_exists",
        "identity id(s) in the journal but not in identities",
    )


@dg.asset_check(asset="identity_journal", blocking=True)
def journal_covers_linked_events(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """Every accepted event carrying a linked identifier is in the journal exactly once."""
    return changed_rows_check(
        context,
        warehouse,
        "event_placements",
        "journal/check_journal_covers_linked_events",
        "event(s) missing from the journal, doubled, or there without a linked identifier",
        reach=False,
    )


@dg.asset_check(asset="customer_profiles", blocking=True)
def one_profile_per_identity(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """customer_profiles holds exactly one row per identity."""
    return changed_rows_check(
        context,
        warehouse,
        "identity_journal",
        "journal/check_one_profile_per_identity",
        "identity(ies) without exactly one profile",
    )
