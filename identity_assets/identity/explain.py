"""Why an identifier belongs where it does: the ledger behind `identity-assets explain`.

Users who see two people merged, or one person split, need the evidence: which events linked
each identifier to the identity (and on which days), which links a limit refused, which
identifiers never link and why, and the identity's merge and split history. Everything here is
read from the identity stage's tables; nothing is recomputed.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any

import duckdb

from identity_assets import sql
from identity_assets.identity.normalise import normalise_identifier

# The listed parts of an explanation: the answer's key, its heading, and one line per row.
_SECTIONS = (
    (
        "refused_links",
        "links refused by a limit:",
        "  {identifier_type} {identifier_value} kept apart from {kept_type} {kept_value}: "
        "{rule} (first event {first_event_id} on {first_day}, {events} events)",
    ),
    (
        "blocked_alongside",
        "blocked identifiers in its events (they link nothing):",
        "  {identifier_type} {identifier_value}: {block_reason} ({events} of its events)",
    ),
    ("history", "merges and splits:", "  {day} {identity_id} <- {absorbed_identity_id}: {reason}"),
)


def explain(
    conn: duckdb.DuckDBPyConnection, identifier_type: str, value: str, phone_region: str = "US"
) -> dict[str, Any] | None:
    """The identifier, its identity, how each member joined, refusals, blocks and history;
    None when the identifier was never seen."""
    normalised = normalise_identifier(identifier_type, value, phone_region)
    found = _rows(
        conn,
        "select identifier_type, identifier_value, status, block_reason, first_seen, last_seen, "
        "event_count from identifiers where identifier_type = $type and identifier_value = $value",
        {"type": identifier_type, "value": normalised},
    )
    if not found:
        return None
    identifier = found[0]
    placed = _rows(
        conn,
        "select m.identity_id, i.* exclude (identity_id) from identity_map as m "
        "inner join identities as i using (identity_id) "
        "where m.identifier_type = $type and m.identifier_value = $value",
        {"type": identifier_type, "value": normalised},
    )
    answer: dict[str, Any] = {"identifier": identifier, "identity": placed[0] if placed else None}
    if placed:
        identity_id = placed[0]["identity_id"]
        links = _rows(conn, sql.load("identity/explain_links"), {"identity_id": identity_id})
        members = _rows(
            conn,
            "select identifier_type, identifier_value from identity_map "
            "where identity_id = $identity_id order by 1, 2",
            {"identity_id": identity_id},
        )
        anchor = (placed[0]["anchor_type"], placed[0]["anchor_value"])
        answer["members"] = _paths(anchor, members, links)
        answer["refused_links"] = _rows(
            conn, sql.load("identity/explain_refusals"), {"identity_id": identity_id}
        )
        answer["blocked_alongside"] = _rows(
            conn, sql.load("identity/explain_blocked"), {"identity_id": identity_id}
        )
        answer["history"] = _rows(
            conn,
            "select day, identity_id, absorbed_identity_id, reason from identity_merges "
            "where identity_id = $identity_id or absorbed_identity_id = $identity_id "
            "order by day, reason",
            {"identity_id": identity_id},
        )
    else:
        answer["refused_links"] = _rows(
            conn,
            "select * exclude (cluster_key) from identity_refused_links "
            "where identifier_type = $type and identifier_value = $value",
            {"type": identifier_type, "value": normalised},
        )
    return answer


def render(answer: dict[str, Any]) -> str:
    """The explanation as text a person reads top to bottom."""
    identifier = answer["identifier"]
    name = f"{identifier['identifier_type']} {identifier['identifier_value']}"
    lines = [
        f"{name}: {identifier['status']}, seen in {identifier['event_count']} events "
        f"from {identifier['first_seen']} to {identifier['last_seen']}"
    ]
    if identifier["status"] == "blocked":
        lines.append(f"  never links: {identifier['block_reason']}")
    identity = answer["identity"]
    if identity is None:
        lines.append("  in no identity")
    else:
        lines.append(
            f"identity {identity['identity_id']}: {identity['identifier_count']} identifiers, "
            f"{identity['event_count']} events, id from its first-seen identifier "
            f"{identity['anchor_type']} {identity['anchor_value']}"
        )
        lines.append("how each identifier joined it:")
        for member in answer["members"]:
            label = f"{member['identifier_type']} {member['identifier_value']}"
            if not member["path"]:
                lines.append(f"  {label} (first seen: the id comes from it)")
                continue
            hop = member["path"][-1]
            lines.append(
                f"  {label} <- {hop['via']} in event {hop['event_id']} "
                f"({hop['day']}, {hop['source']} {hop['kind']}; {hop['events']} events link them)"
            )
    for key, title, template in _SECTIONS:
        if answer.get(key):
            lines.append(title)
            lines.extend(template.format_map(row) for row in answer[key])
    return "\n".join(lines)


def _paths(anchor: tuple[str, str], members: list[dict], links: list[dict]) -> list[dict[str, Any]]:
    """Each member with the chain of links from the anchor to it, earliest links first."""
    neighbours: dict[tuple[str, str], list[tuple[tuple[str, str], dict]]] = {}
    for link in links:
        a = (link["a_type"], link["a_value"])
        b = (link["b_type"], link["b_value"])
        neighbours.setdefault(a, []).append((b, link))
        neighbours.setdefault(b, []).append((a, link))
    path: dict[tuple[str, str], list[dict]] = {anchor: []}
    queue = deque([anchor])
    while queue:
        node = queue.popleft()
        for other, link in sorted(
            neighbours.get(node, []), key=lambda item: (item[1]["first_at"], item[0])
        ):
            if other in path:
                continue
            hop = {
                "via": f"{node[0]} {node[1]}",
                "event_id": link["event_id"],
                "day": link["day"],
                "source": link["source"],
                "kind": link["kind"],
                "events": link["events"],
            }
            path[other] = [*path[node], hop]
            queue.append(other)
    ordered = sorted(
        ((m["identifier_type"], m["identifier_value"]) for m in members),
        key=lambda key: (len(path.get(key, [])), key),
    )
    return [
        {"identifier_type": kind, "identifier_value": value, "path": path.get((kind, value), [])}
        for kind, value in ordered
    ]


def _rows(conn: duckdb.DuckDBPyConnection, query: str, params: dict) -> list[dict[str, Any]]:
    cursor = conn.execute(query, params)
    names = [column[0] for column in cursor.description]
    return [
        {name: _iso_utc(value) for name, value in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


def _iso_utc(value: object) -> object:
    """A timestamp as ISO-8601 UTC, as `journal` prints them; the warehouse keeps UTC."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
