"""Checks on the identity graph. The blocking ones stop a bad graph from flowing downstream."""

import dagster as dg

from identity_assets.checks import failing_rows_check
from identity_assets.resources import IdentityRulesResource, Warehouse


@dg.asset_check(asset="identity_map", blocking=True)
def one_identity_per_identifier(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Each linked identifier belongs to exactly one identity."""
    return failing_rows_check(
        warehouse, "identity/check_one_identity_per_identifier", "identifier(s) mapped twice"
    )


@dg.asset_check(asset="identity_map", blocking=True)
def no_blocked_identifier_linked(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Placeholders, shared and invalid identifiers never join identities."""
    return failing_rows_check(
        warehouse, "identity/check_no_blocked_identifier_linked", "blocked identifier(s) linked"
    )


@dg.asset_check(asset="identities", blocking=True)
def every_identity_summarised(warehouse: Warehouse) -> dg.AssetCheckResult:
    """identities and identity_map describe the same set of identities."""
    return failing_rows_check(
        warehouse, "identity/check_every_identity_summarised", "identity row(s) out of step"
    )


@dg.asset_check(asset="identities", blocking=True)
def largest_identity_within_limit(
    warehouse: Warehouse, identity_rules: IdentityRulesResource
) -> dg.AssetCheckResult:
    """An over-merge stops the run: identities with more identifiers than the configured size
    (a shared identifier the guards missed) never reach journals, metrics or segments."""
    return failing_rows_check(
        warehouse,
        "identity/check_largest_identity",
        f"identities with more than {identity_rules.max_identity_size} identifiers",
        params={"max_size": identity_rules.max_identity_size},
    )


@dg.asset_check(asset="identity_map", blocking=True)
def identities_within_limits(warehouse: Warehouse) -> dg.AssetCheckResult:
    """No identity holds more values of an identifier type than the type's limit."""
    return failing_rows_check(
        warehouse, "identity/check_identities_within_limits", "identities over a type's limit"
    )


@dg.asset_check(asset="identity_refused_links", blocking=True)
def refused_links_kept_apart(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Every link a limit refused stays refused: its two identifiers are in different
    identities."""
    return failing_rows_check(
        warehouse, "identity/check_refused_links_apart", "refused link(s) joined anyway"
    )
