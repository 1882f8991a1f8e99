"""Checks on journals and profiles: each blocks bad rows from reaching metrics and segments.

Each verifies the days and identities the journal changed since it last passed.
"""

from identity_assets.checks import RowCheck, stage_checks

journal_checks = stage_checks(
    "journal_checks",
    {
        "journal_identities_exist": RowCheck(
            "identity_journal",
            "journal/check_journal_identity_exists",
            "identity id(s) in the journal but not in identities",
            "Every journal row belongs to an identity in `identities`.",
            producer="identity_journal",
        ),
        "journal_covers_linked_events": RowCheck(
            "identity_journal",
            "journal/check_journal_covers_linked_events",
            "event(s) missing from the journal, doubled, or there without a linked identifier",
            "Every accepted event carrying a linked identifier is in the journal exactly once.",
            producer="event_placements",
            reach=False,
        ),
        "one_profile_per_identity": RowCheck(
            "customer_profiles",
            "journal/check_one_profile_per_identity",
            "identity(ies) without exactly one profile",
            "customer_profiles holds exactly one row per identity.",
            producer="identity_journal",
        ),
    },
)
