"""Checks on the identity graph. The blocking ones stop a bad graph from flowing downstream.

Each verifies the identities the identity stage changed since it last passed, and everything
once after the stage's rules change.
"""

from functools import partial

from identity_assets.checks import RowCheck, stage_checks

_check = partial(RowCheck, producer="event_placements", rules_of="identity")

identity_checks = stage_checks(
    "identity_checks",
    {
        "one_identity_per_identifier": _check(
            "identity_map",
            "identity/check_one_identity_per_identifier",
            "identifier(s) mapped twice",
            "Each linked identifier belongs to exactly one identity.",
        ),
        "no_blocked_identifier_linked": _check(
            "identity_map",
            "identity/check_no_blocked_identifier_linked",
            "blocked identifier(s) linked",
            "Placeholders, shared and invalid identifiers never join identities.",
        ),
        "every_identity_summarised": _check(
            "identities",
            "identity/check_every_identity_summarised",
            "identity row(s) out of step",
            "identities and identity_map describe the same set of identities.",
        ),
        "largest_identity_within_limit": _check(
            "identities",
            "identity/check_largest_identity",
            "identities with more than {max_size} identifiers",
            "An over-merge stops the run: identities with more identifiers than the configured "
            "size (a shared identifier the guards missed) never reach journals, metrics or "
            "segments.",
            params=lambda resources: {"max_size": resources.identity_rules.max_identity_size},
        ),
        "identities_within_limits": _check(
            "identity_map",
            "identity/check_identities_within_limits",
            "identities over a type's limit",
            "No identity holds more values of an identifier type than the type's limit.",
        ),
        "refused_links_kept_apart": _check(
            "identity_refused_links",
            "identity/check_refused_links_apart",
            "refused link(s) joined anyway",
            "Every link a limit refused stays refused: its two identifiers are in different "
            "identities.",
        ),
    },
    resource_keys=frozenset({"identity_rules"}),
)
