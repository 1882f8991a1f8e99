"""Look-ups users make against the warehouse: a person's journal and a person's profile.

`journal_response` answers in the identifier API's journal shape and `profile_response` in the
insider profile API's shape, so code written against those APIs can read the warehouse. Both
take the identifier as a user would type it and normalise it by the identity stage's rules.
Answers are (HTTP-like status, body): 200, 400 for a malformed request, 404 for nobody.
They read the warehouse (DuckDB) or the serving snapshot (SQLite, laid out for point reads:
serving/sql/lookup_*.sql), and answer alike from both.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from json.decoder import scanstring

import duckdb

from identity_assets import sql
from identity_assets.identity.normalise import is_uid2_hash, normalise_identifier
from identity_assets.text import clean_text

# What look-ups read: the warehouse, or the serving snapshot.
Reader = duckdb.DuckDBPyConnection | sqlite3.Connection

IDENTIFIER_TYPES = ("email", "phone", "user_id", "anonymous_id", "device_id")

# The profile API's identifier names, and the names of ours users know from the other APIs.
_IDENTIFIER_ALIASES = {
    "email": "email",
    "phone": "phone",
    "phone_number": "phone",
    "user_id": "user_id",
    "external_id": "user_id",
    "uuid": "user_id",
    "anonymous_id": "anonymous_id",
    "device_id": "device_id",
}
# Profile attributes by the profile API's names; any other name is a profile column or a trait,
# and `c_<name>` is always the custom trait <name>.
_ATTRIBUTE_ALIASES = {
    "name": "first_name",
    "surname": "last_name",
    "full_name": "name",
    "phone_number": "phone",
}
_PROFILE_COLUMNS = ("email", "phone", "name", "first_name", "last_name", "created_at")
NOT_FOUND = {"error": "no such user for these identifiers: no data"}


class BadRequest(ValueError):
    """A profile request that does not follow the profile API's contract."""


def _in_snapshot(conn: object) -> bool:
    """Whether `conn` reads the serving snapshot rather than the warehouse."""
    return isinstance(conn, sqlite3.Connection)


def _microseconds(moment: datetime | None) -> int | None:
    """A naive UTC moment as the snapshot stores it: microseconds since the epoch."""
    if moment is None:
        return None
    return (moment - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def find_identity(
    conn: Reader, identifier_type: str, value: str, phone_region: str = "US"
) -> str | None:
    """The identity a linked identifier belongs to, or None."""
    if identifier_type not in IDENTIFIER_TYPES:
        raise ValueError(f"unknown identifier type {identifier_type!r}")
    value = clean_text(value)
    if identifier_type in ("email", "phone") and is_uid2_hash(value):
        # a UID2 hash names the email or phone it is the hash of (or itself, when only it came)
        query = (
            sql.load("serving/lookup_identity_by_uid2_hash")
            if _in_snapshot(conn)
            else "select m.identity_id from identity_map as m "
            "inner join identifiers as i using (identifier_key) "
            "where i.identifier_type = $type and i.uid2_hash = $value"
        )
        rows = conn.execute(query, {"type": identifier_type, "value": value}).fetchall()
        return rows[0][0] if rows else None
    rows = conn.execute(
        "select identity_id from identity_map "
        "where identifier_type = $type and identifier_value = $value",
        {
            "type": identifier_type,
            "value": normalise_identifier(identifier_type, value, phone_region),
        },
    ).fetchall()
    return rows[0][0] if rows else None


def journal_response(
    conn: Reader,
    identifier_type: str,
    value: str,
    phone_region: str = "US",
    *,
    limit: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[int, str]:
    """The identifier API's journal answer as JSON text: every event, most recent first (the
    `limit` most recent, those at or after `since` and before `until`, naive UTC, when given).

    Each entry is in the identifier API's entry shape (`journal_entry`), so code written for
    that API's journal reads ours unchanged.
    """
    identity_id = find_identity(conn, identifier_type, value, phone_region)
    if identity_id is None:
        error = {
            "success": False,
            "error": {
                "message": f"no identity has the {identifier_type} {value!r}",
                "code": "IDENTIFIER_NOT_FOUND",
            },
        }
        return 404, json.dumps(error)
    params = {"id": identity_id, "since": since, "until": until, "limit": limit}
    if _in_snapshot(conn):
        query = sql.load("serving/lookup_journal")
        params |= {"since": _microseconds(since), "until": _microseconds(until)}
    else:
        query = (
            "select source, kind, event_name, payload, "
            "strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%fZ') from identity_journal "
            "where identity_id = $id and ($since is null or occurred_at >= $since) "
            "and ($until is null or occurred_at < $until) "
            "order by occurred_at desc, event_id desc limit $limit"
        )
    rows = conn.execute(query, params).fetchall()
    entries = ",".join(journal_entry(*row) for row in rows)
    return (
        200,
        f'{{"success":true,"data":{{"uuid":{json.dumps(identity_id)},"journal":[{entries}]}}}}',
    )


# The identifiers a seed-shaped journal request may name, in the order they are tried.
_REQUEST_IDENTIFIERS = (
    ("anonymous_id", "anonymous_id"),
    ("email", "email"),
    ("email_hash", "email"),
    ("phone", "phone"),
    ("phone_hash", "phone"),
    ("external_id", "user_id"),
    ("user_id", "user_id"),
    ("device_id", "device_id"),
)


def journal_request_response(
    conn: Reader, body: object, phone_region: str = "US"
) -> tuple[int, str]:
    """The journal for a request in the identifier API's shape (`{"platform": ...,
    "anonymous_id": ...}`, without `count_prev_visits`): the first identifier that names a
    known identity answers. 400 in the API's error shape when the request is malformed."""
    problem = None
    named = []
    if not isinstance(body, dict):
        problem = "the body must be a JSON object"
    else:
        for key, identifier_type in _REQUEST_IDENTIFIERS:
            value = body.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not clean_text(value):
                problem = f"{key} must be a non-empty string"
                break
            named.append((identifier_type, value))
        if problem is None and not named:
            problem = (
                "the request needs anonymous_id or email "
                "(or email_hash, phone, phone_hash, external_id, device_id)"
            )
    if problem is not None:
        error = {"success": False, "error": {"message": problem, "code": "BAD_REQUEST"}}
        return 400, json.dumps(error)
    for identifier_type, value in named:
        status, text = journal_response(conn, identifier_type, value, phone_region)
        if status == 200:
            return status, text
    return journal_response(conn, *named[0], phone_region)


# Where a Segment message or a client API call keeps the identifiers it carried, by the name
# the journal entry gives them.
_SEGMENT_IDS = (
    ("user_id", ("userId",)),
    ("anonymous_id", ("anonymousId",)),
    ("previous_id", ("previousId",)),
    ("email", ("traits", "email")),
    ("email", ("context", "traits", "email")),
    ("phone", ("traits", "phone")),
    ("phone", ("context", "traits", "phone")),
    ("device_id", ("context", "device", "id")),
    ("email_hash", ("traits", "email_hash")),
    ("email_hash", ("context", "traits", "email_hash")),
    ("phone_hash", ("traits", "phone_hash")),
    ("phone_hash", ("context", "traits", "phone_hash")),
)
_CLIENT_IDS = (
    "external_id",
    "anonymous_id",
    "email",
    "phone",
    "device_id",
    "email_hash",
    "phone_hash",
)
# The key of a mapped entry that holds the event exactly as received.
ORIGINAL_KEY = "payload"


def journal_entry(
    source: str, kind: str, event_name: str | None, payload: str, created_at: str
) -> str:
    """One journal entry, as JSON text, in the identifier API's entry shape.

    An identifier API call is its request body exactly as received (the text itself, so key
    order, spacing and number formatting are kept) plus `created_at`; a body sent without
    `valuation_properties` gets `{"action": "identifier", "properties": {}}` so every entry
    has one. A Segment message or client API call is mapped into the same shape: `platform`
    naming its source, the identifiers it carried at the top level, `valuation_properties`
    from its event name and properties (or data, or traits), and the event exactly as
    received under `payload`.
    """
    if source == "identifier_api":
        body = _member_text(payload, "body")
        if body is not None:
            parsed = json.loads(body)
            added = {}
            if not isinstance(parsed.get("valuation_properties"), dict):
                added["valuation_properties"] = {"action": kind, "properties": {}}
            added["created_at"] = created_at
            return _extend(body, added)
    event = json.loads(payload)
    entry: dict[str, object] = {"platform": source}
    for name, value in _carried_identifiers(source, kind, event):
        entry.setdefault(name, value)
    entry["valuation_properties"] = {
        "action": event_name if isinstance(event_name, str) and event_name else kind,
        "properties": _event_properties(source, kind, event),
    }
    text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    return f'{text[:-1]},"{ORIGINAL_KEY}":{payload.strip()},"created_at":"{created_at}"}}'


def _carried_identifiers(source: str, kind: str, event: dict):
    if source == "segment":
        for name, path in _SEGMENT_IDS:
            # a group call's traits describe the group, not the person
            if kind == "group" and path[0] == "traits":
                continue
            value = _at(event, path)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                yield name, value
        return
    body = event.get("body") if kind != "events" else event
    if isinstance(body, dict):
        for name in _CLIENT_IDS:
            value = body.get(name)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                yield name, value


def _event_properties(source: str, kind: str, event: dict) -> dict:
    if source == "segment":
        found = event.get("traits") if kind in ("identify", "group") else event.get("properties")
    elif kind == "events":
        found = event.get("data")
    else:
        body = event.get("body") if isinstance(event.get("body"), dict) else {}
        if kind == "devices":
            found = {k: v for k, v in body.items() if k not in _CLIENT_IDS}
        else:
            found = body.get("data")
    return found if isinstance(found, dict) else {}


def _at(event: dict, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(event, dict):
            return None
        event = event.get(key)
    return event


def _member_text(text: str, key: str) -> str | None:
    """The exact text of a top-level member's value of a JSON object, or None."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")
    position = ws.match(text, 0).end()
    if text[position : position + 1] != "{":
        return None
    position = ws.match(text, position + 1).end()
    while position < len(text) and text[position] == '"':
        name, position = scanstring(text, position + 1)
        position = ws.match(text, position).end() + 1  # the colon
        start = ws.match(text, position).end()
        _, end = decoder.raw_decode(text, start)
        if name == key:
            return text[start:end]
        position = ws.match(text, end).end()
        if text[position : position + 1] != ",":
            return None
        position = ws.match(text, position + 1).end()
    return None


def _extend(obj_text: str, members: dict) -> str:
    """An object's exact text with members added at its end."""
    body = obj_text.rstrip()[:-1].rstrip()
    added = json.dumps(members, ensure_ascii=False, separators=(",", ":"))[1:-1]
    separator = "" if body.endswith("{") else ","
    return f"{body}{separator}{added}}}"


@dataclass(frozen=True)
class WantedEvent:
    """One entry of a profile request's `events.wanted`."""

    event_name: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class ProfileRequest:
    """A validated profile request."""

    identifiers: tuple[tuple[str, str], ...]
    identity_id: str | None
    attributes: tuple[str, ...]
    wanted: tuple[WantedEvent, ...]
    start: datetime | None
    end: datetime | None


def parse_profile_request(body: object) -> ProfileRequest:
    """Check a request against the profile API's contract; BadRequest says what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    identity_id = body.get("insider_id", body.get("identity_id"))
    raw_identifiers = body.get("identifiers")
    if identity_id is None and raw_identifiers is None:
        raise BadRequest("the body must have an identifiers object (or an insider_id)")
    if identity_id is not None and not isinstance(identity_id, str):
        raise BadRequest("insider_id must be a string")
    identifiers = []
    if raw_identifiers is not None:
        if not isinstance(raw_identifiers, dict) or not raw_identifiers:
            raise BadRequest('identifiers must be a non-empty object, e.g. {"email": "..."}')
        for key, value in raw_identifiers.items():
            if key not in _IDENTIFIER_ALIASES:
                known = ", ".join(sorted(_IDENTIFIER_ALIASES))
                raise BadRequest(f"unknown identifier {key!r}; known: {known}")
            if not isinstance(value, str) or not clean_text(value):
                raise BadRequest(f"identifier {key!r} must be a non-empty string")
            identifiers.append((_IDENTIFIER_ALIASES[key], value))
    attributes = body.get("attributes")
    events = body.get("events")
    if attributes is None and events is None:
        raise BadRequest("the body must have attributes, events or both")
    if attributes is not None and (
        not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes)
    ):
        raise BadRequest("attributes must be an array of strings")
    wanted: list[WantedEvent] = []
    start = end = None
    if events is not None:
        if not isinstance(events, dict):
            raise BadRequest("events must be an object with start_date, end_date and wanted")
        start = _epoch(events, "start_date")
        end = _epoch(events, "end_date")
        if start > end:
            raise BadRequest("events.start_date is after events.end_date")
        raw_wanted = events.get("wanted")
        if not isinstance(raw_wanted, list) or not raw_wanted:
            raise BadRequest("events.wanted must be a non-empty array")
        for item in raw_wanted:
            if not isinstance(item, dict) or not isinstance(item.get("event_name"), str):
                raise BadRequest("each events.wanted entry needs an event_name string")
            params = item.get("params")
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                raise BadRequest(f"params of {item['event_name']!r} must be an array of strings")
            wanted.append(WantedEvent(item["event_name"], tuple(params)))
    return ProfileRequest(
        identifiers=tuple(identifiers),
        identity_id=identity_id,
        attributes=tuple(attributes or ()),
        wanted=tuple(wanted),
        start=start,
        end=end,
    )


def _epoch(events: dict, key: str) -> datetime:
    value = events.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"events.{key} must be an epoch timestamp (a number)")
    return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)


def profile_response(conn: Reader, body: object, phone_region: str = "US") -> tuple[int, dict]:
    """Answer a profile request in the profile API's shape: 200, 400 or 404 with its body."""
    try:
        request = parse_profile_request(body)
    except BadRequest as error:
        return 400, {"error": f"bad request: {error}"}
    identity_id = _resolve(conn, request, phone_region)
    if identity_id is None:
        return 404, dict(NOT_FOUND)
    answer: dict[str, object] = {}
    if request.attributes:
        answer["attributes"] = _attributes(conn, identity_id, request.attributes)
    if request.wanted:
        answer["events"] = _events(conn, identity_id, request)
    return 200, answer


def _resolve(conn: Reader, request: ProfileRequest, region: str) -> str | None:
    if request.identity_id is not None:
        found = conn.execute(
            "select identity_id from customer_profiles where identity_id = $id",
            {"id": request.identity_id},
        ).fetchall()
        return found[0][0] if found else None
    for identifier_type, value in request.identifiers:
        identity_id = find_identity(conn, identifier_type, value, region)
        if identity_id is not None:
            return identity_id
    return None


def _attributes(conn: Reader, identity_id: str, wanted: tuple[str, ...]):
    columns = ", ".join(_PROFILE_COLUMNS)
    row = conn.execute(
        f"select {columns}, traits from customer_profiles where identity_id = $id",
        {"id": identity_id},
    ).fetchall()[0]
    profile = dict(zip(_PROFILE_COLUMNS, row[:-1], strict=True))
    traits = json.loads(row[-1] or "{}")
    answer: dict[str, object] = {}
    for name in wanted:
        if name.startswith("c_"):
            value = traits.get(_snake(name[2:]))
        else:
            key = _ATTRIBUTE_ALIASES.get(name, _snake(name))
            value = profile[key] if key in profile else traits.get(key)
        if value is not None:
            answer[name] = value
    answer["iid"] = identity_id
    return answer


def _events(conn: Reader, identity_id: str, request: ProfileRequest):
    by_name = {_snake(w.event_name): w for w in request.wanted}
    params = {"id": identity_id, "start": request.start, "end": request.end}
    if _in_snapshot(conn):
        query = sql.load("serving/lookup_profile_events")
        params |= {"start": _microseconds(request.start), "end": _microseconds(request.end)}
    else:
        # The warehouse's journal has no index (decision 0025): this path is for a warehouse
        # without a snapshot; the identity's rows first, then the date range and names.
        query = (
            "with rows as materialized ("
            "select event_id, event_name, source, payload, occurred_at from identity_journal "
            "where identity_id = $id) "
            "select event_name, source, payload, epoch_ms(occurred_at) // 1000, "
            "strftime(occurred_at, '%Y-%m-%dT%H:%M:%SZ') from rows "
            "where occurred_at between $start and $end and event_name is not null "
            "order by occurred_at desc, event_id desc"
        )
    rows = conn.execute(query, params).fetchall()
    answer: dict[str, list] = {w.event_name: [] for w in request.wanted}
    for event_name, source, payload, epoch, created in rows:
        wanted = by_name.get(_snake(event_name))
        if wanted is None:
            continue
        properties, event = _properties(source, json.loads(payload))
        entry = {}
        for param in wanted.params:
            if param == "timestamp":
                entry[param] = epoch
            elif param in properties:
                entry[param] = properties[param]
            elif param in event:
                entry[param] = event[param]
        entry["created_date"] = created
        answer[wanted.event_name].append(entry)
    return answer


def _properties(source: str, event: dict) -> tuple[dict, dict]:
    """An event's parameters where each source keeps them, and the event object itself."""
    if source == "segment":
        found = event.get("properties")
    elif source == "client_api":
        found = event.get("data")
    else:
        body = event.get("body") or {}
        event = body
        found = (body.get("valuation_properties") or {}).get("properties")
    return (found if isinstance(found, dict) else {}), event


def _snake(name: str) -> str:
    """`Order Completed`, `orderCompleted` and `order_completed` all read order_completed."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")
