"""`identity-assets serve`: the journal and profile look-ups over HTTP, read from the snapshot.

Two APIs other systems already speak, answered by journal/lookup.py's own functions on a
read transaction of the published snapshot (never the warehouse, so a run writing it changes nothing
here):

- `POST /api/v1/identifier` without `count_prev_visits`: the identifier API's journal
  retrieval, with a bearer token and that API's error shape (`success: false`, message, code);
- `POST /api/user/v1/profile`: the profile API, with `X-PARTNER-NAME` and `X-REQUEST-TOKEN`,
  its `quota` and its `{"error": "rejected: too many requests"}`.

Each token has its own quota of units per minute (a journal costs 1, a profile 1 plus 0.5 per
kind of event asked for, the profile API's 2.5 for three), and every API answer carries
`X-RateLimit-Limit`, `-Remaining` and `-Reset`. Requests without a valid token spend from their
client address's quota, so guessing tokens is throttled too. Tokens come from the environment,
are compared in constant time and are never logged or echoed.
"""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from identity_assets import settings
from identity_assets.journal.lookup import journal_response, profile_response
from identity_assets.serving.snapshot import SnapshotMissing, SnapshotSource

DEFAULT_QUOTA = 1000
WINDOW_SECONDS = 60
# Identifiers of a journal request in the order they are tried: the seed's required pair, then
# the others our identities are found by.
JOURNAL_IDENTIFIERS = ("anonymous_id", "email", "phone", "user_id", "device_id")
TOO_MANY = {"error": "rejected: too many requests"}


@dataclass(frozen=True)
class ServeConfig:
    """Who may call which API, and how much."""

    bearer_tokens: tuple[str, ...] = ()
    profile_tokens: tuple[tuple[str, str], ...] = ()  # (partner name, request token)
    quota: int = DEFAULT_QUOTA

    @classmethod
    def from_env(cls) -> ServeConfig:
        """`IDENTITY_SERVE_TOKENS`, `IDENTITY_SERVE_PROFILE_TOKENS`, `IDENTITY_SERVE_QUOTA`."""
        pairs = []
        for item in settings.text_list("IDENTITY_SERVE_PROFILE_TOKENS"):
            partner, sep, token = item.strip().partition(":")
            if not sep or not partner or not token:
                raise ValueError(
                    "IDENTITY_SERVE_PROFILE_TOKENS must be partner:token pairs separated by commas"
                )
            pairs.append((partner, token))
        quota = settings.integer("IDENTITY_SERVE_QUOTA", DEFAULT_QUOTA)
        if quota <= 0:
            raise ValueError(f"IDENTITY_SERVE_QUOTA must be positive, got {quota}")
        return cls(
            bearer_tokens=tuple(t.strip() for t in settings.text_list("IDENTITY_SERVE_TOKENS")),
            profile_tokens=tuple(pairs),
            quota=quota,
        )


@dataclass(frozen=True)
class Spent:
    """One request's charge against its quota."""

    allowed: bool
    cost: float
    used: float
    limit: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(math.floor(self.limit - self.used), 0)),
            "X-RateLimit-Reset": str(self.reset),
        }


class Quotas:
    """Units per key per fixed minute; a request that would go over is refused, not charged."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._used: dict[object, tuple[int, float]] = {}

    def spend(self, key: object, cost: float) -> Spent:
        window = int(self._clock() // WINDOW_SECONDS)
        reset = (window + 1) * WINDOW_SECONDS
        with self._lock:
            seen, used = self._used.get(key, (window, 0.0))
            if seen != window:
                used = 0.0
            allowed = used + cost <= self.limit
            if allowed:
                used += cost
            self._used[key] = (window, used)
            if len(self._used) > 100_000:  # forget keys of past minutes
                self._used = {k: v for k, v in self._used.items() if v[0] == window}
        return Spent(allowed, cost, used, self.limit, reset)


def _match(given: str, tokens: tuple[str, ...]) -> int | None:
    """The index of `given` among `tokens`, every comparison made in constant time."""
    found = None
    for index, token in enumerate(tokens):
        if hmac.compare_digest(token.encode(), given.encode()) and found is None:
            found = index
    return found


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def identifier_error(status: int, message: str, code: str, spent: Spent | None) -> Response:
    """The identifier API's error shape."""
    body = {"success": False, "error": {"message": message, "code": code}}
    return JSONResponse(body, status, headers=spent.headers() if spent else None)


def create_app(source: SnapshotSource, config: ServeConfig, clock=time.time) -> Starlette:
    """The service over `source`'s snapshots."""
    quotas = Quotas(config.quota, clock)

    def anonymous(request: Request) -> Spent:
        return quotas.spend(("client", request.client.host if request.client else ""), 1)

    async def identifier(request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        index = _match(token.strip(), config.bearer_tokens) if scheme.lower() == "bearer" else None
        if index is None:
            spent = anonymous(request)
            if not spent.allowed:
                return identifier_error(429, TOO_MANY["error"], "RATE_LIMITED", spent)
            profile_tokens = tuple(t for _, t in config.profile_tokens)
            if token and _match(token.strip(), profile_tokens) is not None:
                return identifier_error(403, "this token may not read journals", "FORBIDDEN", spent)
            return identifier_error(401, "a valid bearer token is required", "UNAUTHORIZED", spent)
        spent = quotas.spend(("bearer", index), 1)
        if not spent.allowed:
            return identifier_error(429, TOO_MANY["error"], "RATE_LIMITED", spent)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return identifier_error(400, "the body is not JSON", "INVALID_REQUEST", spent)
        problem = _journal_request_problem(body)
        if problem is not None:
            status, message, code = problem
            return identifier_error(status, message, code, spent)
        asked = [(name, body[name]) for name in JOURNAL_IDENTIFIERS if body.get(name)]
        try:
            status, text = await run_in_threadpool(_journal, source, asked)
        except SnapshotMissing as error:
            return identifier_error(503, str(error), "UNAVAILABLE", spent)
        return Response(text, status, media_type="application/json", headers=spent.headers())

    async def profile(request: Request) -> Response:
        partner = request.headers.get("x-partner-name", "")
        token = request.headers.get("x-request-token", "")
        index = _match(f"{partner}:{token}", tuple(f"{p}:{t}" for p, t in config.profile_tokens))
        if index is None:
            spent = anonymous(request)
            if not spent.allowed:
                return JSONResponse(TOO_MANY, 429, headers=spent.headers())
            if partner and partner != partner.lower():
                message = "bad request: X-PARTNER-NAME must be lowercase"
                return JSONResponse({"error": message}, 400, headers=spent.headers())
            message = "unauthorized: X-PARTNER-NAME and X-REQUEST-TOKEN do not match a partner"
            return JSONResponse({"error": message}, 401, headers=spent.headers())
        try:
            body = json.loads(await request.body())
        except ValueError as error:
            spent = quotas.spend(("profile", index), 1)
            if not spent.allowed:
                return JSONResponse(TOO_MANY, 429, headers=spent.headers())
            message = f"bad request: the body is not JSON ({error})"
            return JSONResponse({"error": message}, 400, headers=spent.headers())
        spent = quotas.spend(("profile", index), _profile_cost(body))
        if not spent.allowed:
            return JSONResponse(TOO_MANY, 429, headers=spent.headers())
        try:
            status, answer = await run_in_threadpool(_profile, source, body)
        except SnapshotMissing as error:
            return JSONResponse({"error": f"unavailable: {error}"}, 503, headers=spent.headers())
        if status == 200 and isinstance(body, dict) and body.get("quota") is True:
            answer["quota"] = {
                "cost": _number(spent.cost),
                "used": _number(spent.used),
                "total": spent.limit,
            }
        return JSONResponse(answer, status, headers=spent.headers())

    async def healthz(request: Request) -> Response:
        pointer = await run_in_threadpool(source.current_pointer)
        if pointer is None:
            return JSONResponse({"status": "no snapshot", "snapshot": None}, 503)
        snapshot = {
            "version": pointer.version,
            "file": pointer.file,
            "published_at": pointer.published_at,
        }
        return JSONResponse({"status": "ok", "snapshot": snapshot})

    async def not_found(request: Request, error: HTTPException) -> Response:
        spent = anonymous(request)
        message = f"no {request.method} {request.url.path} here"
        if request.url.path.startswith("/api/user/"):
            return JSONResponse({"error": message}, error.status_code, headers=spent.headers())
        code = "NOT_FOUND" if error.status_code == 404 else "METHOD_NOT_ALLOWED"
        return identifier_error(error.status_code, message, code, spent)

    return Starlette(
        routes=[
            Route("/api/v1/identifier", identifier, methods=["POST"]),
            Route("/api/user/v1/profile", profile, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_found},
    )


def _journal_request_problem(body: object) -> tuple[int, str, str] | None:
    """What makes a journal request unanswerable here: (status, message, code), or None."""
    if not isinstance(body, dict):
        return 400, "the body must be a JSON object", "INVALID_REQUEST"
    if "count_prev_visits" in body:
        return (
            403,
            "this service only reads journals: send a request without count_prev_visits",
            "READ_ONLY",
        )
    if not isinstance(body.get("platform"), str) or not body["platform"].strip():
        return 400, "platform is required (a non-empty string)", "INVALID_PARAMETER"
    for name in (*JOURNAL_IDENTIFIERS, "fbclid", "gaclid"):
        if name in body and not isinstance(body[name], str):
            return 400, f"{name} must be a string", "INVALID_PARAMETER"
    if not any(body.get(name, "").strip() for name in ("anonymous_id", "email")):
        return 400, "either anonymous_id or email is required", "MISSING_IDENTIFIER"
    if "valuation_properties" in body and not isinstance(body["valuation_properties"], dict):
        return 400, "valuation_properties must be an object", "INVALID_PARAMETER"
    return None


def _journal(source: SnapshotSource, asked: list[tuple[str, str]]) -> tuple[int, str]:
    """The journal of the first identifier that finds an identity, else the first's 404."""
    with source.lease() as (pointer, conn):
        first = None
        for identifier_type, value in asked:
            if not value.strip():
                continue
            answer = journal_response(conn, identifier_type, value, pointer.phone_region)
            if answer[0] != 404:
                return answer
            first = first or answer
        return first


def _profile(source: SnapshotSource, body: object) -> tuple[int, dict]:
    with source.lease() as (pointer, conn):
        return profile_response(conn, body, pointer.phone_region)


def _profile_cost(body: object) -> float:
    """1 unit, and 0.5 for each kind of event asked for: the attributes asked for cost nothing."""
    events = body.get("events") if isinstance(body, dict) else None
    wanted = events.get("wanted") if isinstance(events, dict) else None
    return 1 + 0.5 * (len(wanted) if isinstance(wanted, list) else 0)
