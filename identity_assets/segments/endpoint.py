"""A local stand-in for the identifier API, so the whole chain runs offline and tests hit a
real HTTP server.

It implements the seed's contract: `POST {base}/identifier` with a bearer token; with
`count_prev_visits` it records the call and answers `{"success": true, "data": {"uuid": ...,
"count_prev_visits": n}}`; without it, it answers the journal (every recorded call of that
person, most recent first, each the payload received plus `created_at`), and a journal request
that carries `valuation_properties` is recorded first, as the seed's journal example (the
request's own pageview is the newest entry) and its "Basic Event Tracking" show. Errors use the
seed's shape, every answer carries `X-RateLimit-Limit/Remaining/Reset`, and faults can be injected:
500s before recording, 500s after recording, slow answers, and 429 when over the rate limit.
`GET /stats` reports what it saw, for tests and benchmarks.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Faults:
    """What the stand-in does wrong, on purpose."""

    rate_limit: int = 0  # requests per second; 0: unlimited
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
    people: dict[str, str] = field(default_factory=dict)
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
        if self.path.rstrip("/").endswith("/stats"):
            self._answer(200, self.server.stats())
        else:
            self._error(404, "not found", "NOT_FOUND")

    def do_POST(self) -> None:
        state = self.server.state
        if not self.path.rstrip("/").endswith("/identifier"):
            return self._error(404, f"no such endpoint {self.path}", "NOT_FOUND")
        expected = f"Bearer {state.token}" if state.token else None
        given = self.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or (expected and given != expected):
            return self._error(401, "missing or invalid bearer token", "UNAUTHORIZED")
        limited, remaining, reset = self.server.take_rate_slot()
        if limited:
            return self._error(429, "rate limit exceeded", "RATE_LIMITED", remaining, reset)
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
        except (ValueError, json.JSONDecodeError):
            return self._error(400, "the body is not JSON", "INVALID_JSON", remaining, reset)
        problem = _invalid(body)
        if problem:
            return self._error(400, problem, "INVALID_PARAMETERS", remaining, reset)
        roll = self.server.roll()
        faults = state.faults
        if roll < faults.slow_rate:
            time.sleep(faults.slow_seconds)
        roll = self.server.roll()
        if roll < faults.fail_rate:
            return self._error(500, "injected failure", "INTERNAL_ERROR", remaining, reset)
        person = body.get("anonymous_id") or body.get("email")
        if "count_prev_visits" not in body:
            if "valuation_properties" in body:  # an event, as the seed's "Basic Event Tracking"
                self.server.record(person, body)
            return self._answer(200, self.server.journal(person), remaining, reset)
        visits = self.server.record(person, body)
        if roll < faults.fail_rate + faults.fail_after_record_rate:
            return self._error(500, "injected failure after recording", "INTERNAL_ERROR",
                               remaining, reset)  # fmt: skip
        answer = {"success": True, "data": {"uuid": self.server.uuid(person),
                                            "count_prev_visits": visits}}  # fmt: skip
        self._answer(200, answer, remaining, reset)

    def _error(
        self, status: int, message: str, code: str, remaining: int = -1, reset: int = 0
    ) -> None:
        body = {"success": False, "error": {"message": message, "code": code}}
        self._answer(status, body, remaining, reset)

    def _answer(self, status: int, body: object, remaining: int = -1, reset: int = 0) -> None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.server.state.statuses[status] += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        limit = self.server.state.faults.rate_limit
        if limit:
            self.send_header("X-RateLimit-Limit", str(limit))
            self.send_header("X-RateLimit-Remaining", str(max(remaining, 0)))
            self.send_header("X-RateLimit-Reset", str(reset))
            if status == 429:
                self.send_header("Retry-After", str(max(reset - int(time.time()), 1)))
        self.end_headers()
        self.wfile.write(data)


def _invalid(body: object) -> str | None:
    """What makes a body break the seed's contract, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("platform"), str) or not body["platform"]:
        return "platform is required"
    if not body.get("anonymous_id") and not body.get("email"):
        return "anonymous_id or email is required"
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

    def take_rate_slot(self) -> tuple[bool, int, int]:
        """A fixed one-second window: (over the limit?, remaining, reset epoch second)."""
        state = self.state
        limit = state.faults.rate_limit
        now = time.time()
        second = math.floor(now)
        with state.lock:
            if second != state.window_start:
                state.window_start, state.window_count = second, 0
            state.window_count += 1
            count = state.window_count
        if not limit:
            return False, -1, 0
        return count > limit, limit - count, second + 1

    def uuid(self, person: str) -> str:
        with self.state.lock:
            return self.state.people.setdefault(person, f"stand-in-{len(self.state.people) + 1}")

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
