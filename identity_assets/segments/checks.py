"""Checks on segments: membership must be sound before any update is sent (its step runs
before delivery); segments nobody is in and undelivered updates warn."""

from identity_assets.checks import RowCheck, stage_checks

membership_checks = stage_checks(
    "segment_membership_checks",
    {
        "one_membership_per_identity_and_segment": RowCheck(
            "segment_membership",
            "segments/check_one_membership",
            "membership row(s) doubled or unknown",
            "An identity is in a segment at most once, and only known identities are members.",
        ),
        "every_segment_has_members": RowCheck(
            "segment_membership",
            "segments/check_segments_have_members",
            "segment(s) with no member",
            "Warns, naming them, about segments whose condition matches nobody on the data.",
            blocking=False,
            params=lambda resources: {
                "segments": [segment.name for segment in resources.segment_rules.segments()]
            },
        ),
    },
    resource_keys=frozenset({"segment_rules"}),
)

delivery_checks = stage_checks(
    "segment_updates_checks",
    {
        "segment_updates_delivered": RowCheck(
            "segment_updates",
            "segments/check_updates_delivered",
            "segment update(s) not delivered yet",
            "Warns, listing them, about updates not delivered yet (they are retried next run).",
            blocking=False,
        ),
    },
)
