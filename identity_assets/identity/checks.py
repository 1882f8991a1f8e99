"""Checks on the identity graph. The blocking ones stop a bad graph from flowing downstream.

Each verifies the identities the identity stage changed since it last passed, and everything
once after the stage's rules change.
"""

import dagster as dg

from identity_assets.checks import changed_rows_check
from identity_assets.resources import IdentityRulesResource, Warehouse


def _identity_check(
    context: dg.AssetCheckExecutionContext,
    warehouse: Warehouse,
    what: str,
    query: str,
    params: dict[str, object] | None = None,
) -> dg.AssetCheckResult:
    return changed_rows_check(
        context,
        warehouse,
        "event_placements",
        f"identity/{query}",
        what,
        params=params,
        rules_of="identity",
    )


@dg.asset_check(asset="identity_map", blocking=True)
def one_identity_per_identifier(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """Each linked identifier belongs to exactly one identity."""
    return _identity_check(
        context,
        warehouse,
        "identifier(s) mapped twice",
        "check_one_identity_per_identifier",
    )


@dg.asset_check(asset="identity_map", blocking=True)
def no_blocked_identifier_linked(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """Placeholders, shared and invalid identifiers never join identities."""
    return _identity_check(
        context,
        warehouse,
        "blocked identifier(s) linked",
        "check_no_blocked_identifier_linked",
    )


@dg.asset_check(asset="identities", blocking=True)
def every_identity_summarised(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """identities and identity_map describe the same set of identities."""
    return _identity_check(
        context,
        warehouse,
        "identity row(s) out of step",
        "check_every_identity_summarised",
    )


@dg.asset_check(asset="identities", blocking=True)
def largest_identity_within_limit(
    context: dg.AssetCheckExecutionContext,
    warehouse: Warehouse,
    identity_rules: IdentityRulesResource,
) -> dg.AssetCheckResult:
    """An over-merge stops the run: identities with more identifiers than the configured size
    (a shared identifier the guards missed) never reach journals, metrics or segments."""
    return _identity_check(
        context,
        warehouse,
        f"identities with more than {identity_rules.max_identity_size} identifiers",
        "check_largest_identity",
        params={"max_size": identity_rules.max_identity_size},
    )


@dg.asset_check(asset="identity_map", blocking=True)
def identities_within_limits(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """No identity holds more values of an identifier type than the type's limit."""
    return _identity_check(
        context,
        warehouse,
        "identities over a type's limit",
        "check_identities_within_limits",
    )


@dg.asset_check(asset="identity_refused_links", blocking=True)
def refused_links_kept_apart(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    """Every link a limit refused stays refused: its two identifiers are in different
    identities."""
    return _identity_check(
        context,
        warehouse,
        "refused link(s) joined anyway",
        "check_refused_links_apart",
    )
