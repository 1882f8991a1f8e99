"""A local stand-in for the identifier API, so the whole chain runs offline and tests hit a
real HTTP server.

It implements the seed's contract: `POST {base}/identifier` with a bearer token; with
`count_prev_visits` it records the call and answers `{"success": true, "data": {"uuid": ...,
"count_prev_visits": n}}`; without it, it answers the journal (every recorded call of that
person, most recent first, each the payload received plus `created_at`), and a journal request
that carries `valuation_properties` is recorded first, as the seed's journal example (the
request's own pageview is the newest entry) and its "Basic Event Tracking" show. A body that
breaks the seed's types is answered 400, never left unanswered. Errors use the seed's shape;
every answer carries `X-RateLimit-Limit/Remaining/Reset` of a one-second window (1000 requests,
the seed's figure, unless told otherwise), and faults can be injected: 500s before recording,
500s after recording, slow answers, 403 to a token without permission, and 429 when over the
rate limit. `GET /stats` reports what it saw, for tests and benchmarks.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Faults:
    """What the stand-in does wrong, on purpose."""

    rate_limit: int = 1000  # requests per one-second window, then 429
    forbidden: bool = False  # the token is known but may not call the API: 403
    fail_rate: float = 0.0  # share of calls answered 500 before recording
    fail_after_record_rate: float = 0.0  # share recorded, then answered 500
    slow_rate: float = 0.0  # share answered after `slow_seconds`
    slow_seconds: float = 2.0
    seed: int = 7


@dataclass
class _State:
    """What the server has recorded, shared by its handler threads."""

    token: str | None
    faults: Faults
    lock: threading.Lock = field(default_factory=threading.Lock)
    journals: dict[str, list[str]] = field(default_factory=dict)
    update_ids: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    window_start: int = 0
    window_count: int = 0
    rng: random.Random = field(default_factory=random.Random)


class _Handler(BaseHTTPRequestHandler):
    server: IdentifierStandIn

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet: the stand-in is a test double, its access log would drown the pipeline's."""

    def do_GET(self) -> None:
        self._window = self.server.take_rate_slot(count=False)
        if self.path.rstrip("/").endswith("/stats"):
            self._answer(200, self.server.stats())
        else:
            self._error(404, "not found", "NOT_FOUND")

    def do_POST(self) -> None:
        self._window = self.server.take_rate_slot()
        try:
            self._identifier()
        except OSError:  # the connection is gone: there is no one to answer
            raise
        except Exception as error:  # an answer, rather than a connection closed on the client
            self._error(500, f"the stand-in failed: {type(error).__name__}", "INTERNAL_ERROR")

    def _identifier(self) -> None:
        state = self.server.state
        if not self.path.rstrip("/").endswith("/identifier"):
            return self._error(404, f"no such endpoint {self.path}", "NOT_FOUND")
        expected = f"Bearer {state.token}" if state.token else None
        given = self.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or (expected and given != expected):
            return self._error(401, "missing or invalid bearer token", "UNAUTHORIZED")
        if state.faults.forbidden:
            return self._error(403, "the token may not call this endpoint", "FORBIDDEN")
        if self._window[0]:
            return self._error(429, "rate limit exceeded", "RATE_LIMITED")
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(max(length, 0)) or b"null")
        except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return self._error(400, "the body is not JSON", "INVALID_JSON")
        problem = _invalid(body)
        if problem:
            return self._error(400, problem, "INVALID_PARAMETERS")
        roll = self.server.roll()
        faults = state.faults
        if roll < faults.slow_rate:
            time.sleep(faults.slow_seconds)
        roll = self.server.roll()
        if roll < faults.fail_rate:
            return self._error(500, "injected failure", "INTERNAL_ERROR")
        person = body.get("anonymous_id") or body.get("email")
        if "count_prev_visits" not in body:
            if "valuation_properties" in body:  # an event, as the seed's "Basic Event Tracking"
                self.server.record(person, body)
            return self._answer(200, self.server.journal(person))
        visits = self.server.record(person, body)
        if roll < faults.fail_rate + faults.fail_after_record_rate:
            return self._error(500, "injected failure after recording", "INTERNAL_ERROR")
        # the seed's success body, `email` included (its example answers "" there too)
        answer = {"success": True, "data": {"uuid": self.server.uuid(person), "email": "",
                                            "count_prev_visits": visits}}  # fmt: skip
        self._answer(200, answer)

    def _error(self, status: int, message: str, code: str) -> None:
        self._answer(status, {"success": False, "error": {"message": message, "code": code}})

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.server.state.statuses[status] += 1
        _, remaining, reset = self._window
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-RateLimit-Limit", str(self.server.state.faults.rate_limit))
        self.send_header("X-RateLimit-Remaining", str(remaining))
        self.send_header("X-RateLimit-Reset", str(reset))
        if status == 429:
            self.send_header("Retry-After", str(max(reset - int(time.time()), 1)))
        self.end_headers()
        self.wfile.write(data)


_TEXT = ("anonymous_id", "email", "phone", "fbclid", "gaclid", "gclid", "email_hash")


def _invalid(body: object) -> str | None:
    """What makes a body break the seed's contract, or None. An optional field may be null."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not body.get("platform"):
        return "platform is required"
    if not isinstance(body["platform"], str):
        return "platform must be a string"
    for name in _TEXT:
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} must be a string"
    if "count_prev_visits" in body and not isinstance(body["count_prev_visits"], bool):
        return "count_prev_visits must be a boolean"
    if not body.get("anonymous_id") and not body.get("email"):
        return "anonymous_id or email is required"
    event = body.get("valuation_properties")
    if event is None:
        return None
    if not isinstance(event, dict):
        return "valuation_properties must be an object"
    if event.get("action") is not None and not isinstance(event["action"], str):
        return "valuation_properties.action must be a string"
    if event.get("properties") is not None and not isinstance(event["properties"], dict):
        return "valuation_properties.properties must be an object"
    return None


class IdentifierStandIn(ThreadingHTTPServer):
    """The stand-in server; `serve_forever` it in a thread or a process of its own."""

    daemon_threads = True

    def __init__(self, host: str, port: int, token: str | None, faults: Faults | None = None):
        super().__init__((host, port), _Handler)
        faults = faults or Faults()
        self.state = _State(token=token, faults=faults, rng=random.Random(faults.seed))

    def roll(self) -> float:
        with self.state.lock:
            return self.state.rng.random()

    def take_rate_slot(self, count: bool = True) -> tuple[bool, int, int]:
        """A fixed one-second window: (over the limit?, remaining, reset epoch second). With
        `count` false the window is only read (`/stats` does not spend the callers' limit)."""
        state = self.state
        limit = state.faults.rate_limit
        second = math.floor(time.time())
        with state.lock:
            if second != state.window_start:
                state.window_start, state.window_count = second, 0
            state.window_count += count
            used = state.window_count
        return used > limit, max(limit - used, 0), second + 1

    def uuid(self, person: str) -> str:
        """A person's uuid, in the seed's form, the same for the same identifier."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"stand-in:{person}"))

    def record(self, person: str, body: dict) -> int:
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        entry = json.dumps({**body, "created_at": created})
        update_id = ((body.get("valuation_properties") or {}).get("properties") or {}).get(
            "update_id"
        )
        with self.state.lock:
            journal = self.state.journals.setdefault(person, [])
            journal.append(entry)
            if update_id:
                self.state.update_ids[update_id] += 1
            return len(journal)

    def journal(self, person: str) -> bytes:
        with self.state.lock:
            entries = list(reversed(self.state.journals.get(person, [])))
        uuid = self.uuid(person)
        return (
            f'{{"success":true,"data":{{"uuid":{json.dumps(uuid)},'
            f'"journal":[{",".join(entries)}]}}}}'
        ).encode()

    def stats(self) -> dict:
        with self.state.lock:
            ids = self.state.update_ids
            return {
                "recorded": sum(len(j) for j in self.state.journals.values()),
                "update_ids": len(ids),
                "recorded_twice": sum(1 for count in ids.values() if count > 1),
                "statuses": {str(k): v for k, v in sorted(self.state.statuses.items())},
            }
