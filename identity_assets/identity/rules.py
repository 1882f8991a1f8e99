"""The rules identity resolution obeys, and what changed since the rules last applied.

Users change these: how many values of each identifier type one identity may hold and which
type wins when a limit is hit (the per-type limits of Segment Unify or Hightouch), the
placeholder list, the sharing guard, and identifiers blocked by hand with a reason (the
un-merge lever). The identity stage stores the rules each run applied, so a later run can tell
exactly which identifiers and identities a change reaches and re-resolve only those.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from identity_assets.identity.normalise import normalise_identifier

DEFAULT_PLACEHOLDERS = (
    "",
    "null",
    "nil",
    "none",
    "undefined",
    "unknown",
    "n/a",
    "na",
    "-1",
    "anonymous",
    "guest",
    "test",
    "test@test.com",
    "test@example.com",
    "email@example.com",
    "noreply@example.com",
    "none@none.com",
    "no@email.com",
)
# Identifiers seen in one event with more than this many distinct values of one strong type
# (user_id, email, phone) are shared (a kiosk, a family tablet) and do not link. Measured on
# the sample generator's truth (identity_assets_tests/identity/test_truth.py): a real
# person's identifier is seen with at most 2 values of a type, the shared kiosk with 17 to 43.
DEFAULT_MAX_LINKED = 3

LINKING_TYPES = ("user_id", "email", "phone", "device_id", "anonymous_id")
# Which of two identifiers first seen at the same moment names their identity. Fixed, unlike the
# priority below, so that an identity's id never depends on configuration.
ANCHOR_ORDER = ("user_id", "email", "phone", "anonymous_id", "device_id")
# Which identifier wins when linking would break a limit: the event joins the identity of its
# highest-priority identifier and the others' links are refused. Segment's order.
DEFAULT_PRIORITY = LINKING_TYPES
# How many distinct values of a type one identity may hold. A person has one account id; a few
# emails, phones and devices are normal; cookies churn. On the sample generator's truth a
# person holds at most 1 user id, 2 emails, 1 phone, 1 device and 3 anonymous ids.
DEFAULT_LIMITS: Mapping[str, int] = {
    "user_id": 1,
    "email": 5,
    "phone": 5,
    "device_id": 5,
    "anonymous_id": 25,
}


@dataclass(frozen=True)
class Block:
    """An identifier blocked by hand, so it never links, with the reason a user gave."""

    identifier_type: str
    identifier_value: str
    reason: str


@dataclass(frozen=True)
class IdentityRules:
    """Placeholders, the sharing guard, per-type limits with priority, hand blocks, the region."""

    placeholders: Sequence[str] = DEFAULT_PLACEHOLDERS
    max_linked: int = DEFAULT_MAX_LINKED
    phone_region: str = "US"
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    priority: Sequence[str] = DEFAULT_PRIORITY
    blocks: Sequence[Block] = ()

    def __post_init__(self) -> None:
        unknown = set(self.limits) - set(LINKING_TYPES)
        if unknown:
            raise ValueError(
                f"identity limits name unknown identifier types {sorted(unknown)}; "
                f"known: {', '.join(LINKING_TYPES)}"
            )
        bad = {t: n for t, n in self.limits.items() if not isinstance(n, int) or n < 1}
        if bad:
            raise ValueError(f"identity limits must be whole numbers of at least 1, got {bad}")
        if sorted(self.priority) != sorted(LINKING_TYPES):
            raise ValueError(
                "identity priority must list each of "
                f"{', '.join(LINKING_TYPES)} once, got {list(self.priority)}"
            )
        if self.max_linked < 1:
            raise ValueError(f"max_linked must be at least 1, got {self.max_linked}")
        for block in self.blocks:
            if block.identifier_type not in LINKING_TYPES:
                raise ValueError(
                    f"cannot block identifier type {block.identifier_type!r}; "
                    f"known: {', '.join(LINKING_TYPES)}"
                )
            if not block.reason.strip():
                raise ValueError(
                    f"blocking {block.identifier_type} {block.identifier_value!r} needs a reason"
                )

    def placeholder_values(self) -> frozenset[str]:
        """The placeholders as the stage compares them: trimmed and lower-cased."""
        return frozenset(p.strip().lower() for p in self.placeholders)

    def normalised_blocks(self) -> list[tuple[str, str, str]]:
        """The hand blocks as stored identifiers: (type, normalised value, reason)."""
        seen: dict[tuple[str, str], str] = {}
        for block in self.blocks:
            value = normalise_identifier(
                block.identifier_type, block.identifier_value, self.phone_region
            )
            seen.setdefault((block.identifier_type, value), block.reason.strip())
        return [(kind, value, reason) for (kind, value), reason in sorted(seen.items())]

    def ranked_limits(self) -> list[tuple[int, str, int]]:
        """(priority rank from 0, type, limit) for every type with a limit, highest first."""
        return [
            (rank, kind, self.limits[kind])
            for rank, kind in enumerate(self.priority)
            if kind in self.limits
        ]

    def type_rules(self) -> list[tuple[str, int, int, int | None]]:
        """(type, priority rank from 1, anchor rank from 1, limit or None) per linking type:
        the rows of `identifier_rules`."""
        return [
            (kind, rank, ANCHOR_ORDER.index(kind) + 1, self.limits.get(kind))
            for rank, kind in enumerate(self.priority, 1)
        ]

    def to_json(self) -> str:
        """A canonical form, stored with each run so the next one can tell what changed."""
        return json.dumps(
            {
                "placeholders": sorted(self.placeholder_values()),
                "max_linked": self.max_linked,
                "phone_region": self.phone_region,
                "limits": dict(sorted(self.limits.items())),
                "priority": list(self.priority),
                "blocks": [list(b) for b in self.normalised_blocks()],
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> IdentityRules:
        """The rules a previous run stored with `to_json`."""
        data = json.loads(text)
        return cls(
            placeholders=tuple(data["placeholders"]),
            max_linked=data["max_linked"],
            phone_region=data["phone_region"],
            limits=data["limits"],
            priority=tuple(data["priority"]),
            blocks=tuple(Block(*b) for b in data["blocks"]),
        )


def load_identity_rules(path: str | Path, base: IdentityRules | None = None) -> IdentityRules:
    """Rules from a JSON file (keys `limits`, `priority`, `blocks`, `extra_placeholders`,
    `max_linked_values`), each replacing the matching part of `base`; see the README."""
    base = base or IdentityRules()
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read identity rules from {path}: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"identity rules in {path} must be a JSON object")
    known = {"limits", "priority", "blocks", "extra_placeholders", "max_linked_values"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(
            f"identity rules in {path} have unknown keys {sorted(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    blocks = _blocks(data.get("blocks", []), path)
    placeholders = data.get("extra_placeholders", [])
    if not _strings(placeholders):
        raise ValueError(f"extra_placeholders in {path} must be a list of strings")
    max_linked = data.get("max_linked_values", base.max_linked)
    if not _whole(max_linked):
        raise ValueError(f"max_linked_values in {path} must be a whole number, got {max_linked!r}")
    priority = data.get("priority", base.priority)
    if not _strings(priority):
        raise ValueError(f"priority in {path} must be a list of identifier types")
    return IdentityRules(
        placeholders=(*base.placeholders, *placeholders),
        max_linked=max_linked,
        phone_region=base.phone_region,
        limits=_merged_limits(base.limits, data.get("limits", {}), path),
        priority=tuple(priority),
        blocks=(*base.blocks, *blocks),
    )


def _strings(value: object) -> bool:
    """A JSON list of strings (a lone string is not one: it would become its letters)."""
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _whole(value: object) -> bool:
    """A JSON whole number: 2.9 and true are not (they would become 2 and 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _blocks(items: object, path: str | Path) -> tuple[Block, ...]:
    if not isinstance(items, list):
        raise ValueError(f"blocks in {path} must be a list of objects with type, value, reason")
    blocks = []
    for number, item in enumerate(items, start=1):
        if (
            not isinstance(item, dict)
            or set(item) - {"type", "value", "reason"}
            or not isinstance(item.get("type"), str)
            or not isinstance(item.get("value"), str | int)
            or isinstance(item.get("value"), bool)
            or not isinstance(item.get("reason", ""), str)
        ):
            raise ValueError(
                f"block {number} in {path} must be an object with the strings type, value and "
                f"reason, got {item!r}"
            )
        blocks.append(Block(item["type"], str(item["value"]), item.get("reason", "")))
    return tuple(blocks)


def _merged_limits(base: Mapping[str, int], given: object, path: str | Path) -> dict[str, int]:
    """The file's limits over the base ones; `null` removes a type's limit."""
    if not isinstance(given, dict):
        raise ValueError(f"limits in {path} must be an object of type: number")
    bad = {k: v for k, v in given.items() if v is not None and not _whole(v)}
    if bad:
        raise ValueError(f"limits in {path} must be whole numbers (or null), got {bad}")
    merged = {**base, **given}
    return {kind: limit for kind, limit in merged.items() if limit is not None}
