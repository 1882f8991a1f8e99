"""A client for the identifier API that respects its limits and survives its faults.

One pooled HTTP session; a shared gate that holds every worker back when the API says its
window is spent (`X-RateLimit-Remaining: 0` until `X-RateLimit-Reset`) or answers 429; 429s,
5xx, timeouts and connection errors retried with exponential backoff and full jitter (the UID2
seed's advice); 400, 401 and 403 never retried, their message kept. The token is sent in the
Authorization header and appears nowhere else: not in errors, logs or return values.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

RETRIED_STATUSES = {429, 500, 502, 503, 504}


class ApiRefused(RuntimeError):
    """The API refused our credentials (401/403): no other update can succeed either."""


@dataclass(frozen=True)
class Outcome:
    """How one request ended."""

    ok: bool
    status: int | None  # the last HTTP status; None when no answer came
    error: str | None
    attempts: int
    rate_limited: int  # 429s met on the way


class RateGate:
    """Permits shared by all workers, following the API's own counters.

    Once the API has said its limit, each request takes a permit from what the current window
    has left; when none are left, workers wait for the window's reset instead of spending
    requests on 429s. A 429 (or `Retry-After`) closes the gate until the reset it names.
    """

    def __init__(self, max_wait: float = 60.0) -> None:
        self._lock = threading.Lock()
        self._limit: int | None = None
        self._remaining: int | None = None
        self._reset_at = 0.0
        self._max_wait = max_wait

    def acquire(self) -> None:
        """Block until a request may go out, and count it."""
        while True:
            with self._lock:
                now = time.time()
                if self._reset_at and now >= self._reset_at:
                    self._remaining, self._reset_at = self._limit, 0.0
                if self._remaining is None or self._remaining > 0:
                    if self._remaining is not None:
                        self._remaining -= 1
                    return
                delay = self._reset_at - now
            time.sleep(min(max(delay, 0.01), 1.0))

    def observe(self, status: int, headers) -> None:
        """Learn the window from an answer's X-RateLimit headers (and Retry-After on 429)."""
        now = time.time()
        limit = _number(headers.get("X-RateLimit-Limit"))
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        reset = _number(headers.get("X-RateLimit-Reset"))
        if reset is not None and reset < 10**9:  # seconds from now rather than an epoch second
            reset = now + reset
        retry_after = _number(headers.get("Retry-After"))
        with self._lock:
            if limit is not None:
                self._limit = int(limit)
            if reset is not None and remaining is not None:
                reset = min(reset, now + self._max_wait)
                if reset > self._reset_at + 0.5:  # a newer window: its count replaces ours
                    self._reset_at, self._remaining = reset, int(remaining)
                elif self._remaining is None or remaining < self._remaining:
                    self._reset_at, self._remaining = max(self._reset_at, reset), int(remaining)
            if status == 429:
                until = now + min(retry_after, self._max_wait) if retry_after else now + 1.0
                self._reset_at = max(self._reset_at, until)
                self._remaining = 0


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


class IdentifierClient:
    """Posts payloads to `{base_url}/identifier`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_seconds: float = 10.0,
        max_attempts: int = 6,
        pool_size: int = 8,
        backoff_base: float = 0.25,
        backoff_cap: float = 20.0,
        max_reset_wait: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/identifier"
        self.timeout = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_reset_wait = max_reset_wait
        self.gate = RateGate(max_reset_wait)
        self._refused: str | None = None
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        )

    def close(self) -> None:
        self._session.close()

    def post(self, payload: dict, update_id: str | None = None) -> Outcome:
        """Send one payload until it succeeds, fails for good, or attempts run out.

        With `update_id` (carried in the payload's properties), a 5xx is followed by a look at
        the API's journal before retrying: a server that recorded the update and then failed
        has it already, and sending it again would repeat it.
        """
        body = json.dumps(payload)
        rate_limited = 0
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self.max_attempts + 1):
            if self._refused:  # another worker's answer already says no request can succeed
                raise ApiRefused(self._refused)
            self.gate.acquire()
            try:
                response = self._session.post(self.url, data=body, timeout=self.timeout)
            except requests.Timeout:
                status, error = None, f"timed out after {self.timeout:g}s"
            except requests.ConnectionError as failure:
                status, error = None, f"connection failed: {type(failure).__name__}"
            else:
                status = response.status_code
                self.gate.observe(status, response.headers)
                if 200 <= status < 300:
                    return Outcome(True, status, None, attempt, rate_limited)
                error = _message(response)
                if status in (401, 403):
                    self._refused = (
                        f"the identifier API refused the token ({status}: {error}); "
                        "check IDENTITY_API_TOKEN"
                    )
                    raise ApiRefused(self._refused)
                if status not in RETRIED_STATUSES:
                    return Outcome(False, status, error, attempt, rate_limited)
                if status == 429:
                    rate_limited += 1
                elif update_id and status >= 500 and self.recorded(payload, update_id):
                    return Outcome(True, status, None, attempt, rate_limited)
            if attempt < self.max_attempts:
                time.sleep(self._backoff(attempt))
        return Outcome(False, status, error, self.max_attempts, rate_limited)

    def journal(self, payload: dict) -> dict | None:
        """The API's journal for the person a payload names (the payload minus
        `count_prev_visits`), or None when it cannot be read."""
        query = {k: v for k, v in payload.items() if k != "count_prev_visits"}
        self.gate.acquire()
        try:
            response = self._session.post(self.url, data=json.dumps(query), timeout=self.timeout)
        except requests.RequestException:
            return None
        self.gate.observe(response.status_code, response.headers)
        if response.status_code != 200:
            return None
        return response.json()

    def recorded(self, payload: dict, update_id: str) -> bool:
        """Whether the API's journal for the payload's person holds this update already (three
        tries to read it; an unreadable journal counts as not holding it)."""
        journal = None
        for attempt in range(1, 4):
            journal = self.journal(payload)
            if journal is not None:
                break
            time.sleep(self._backoff(attempt))
        entries = ((journal or {}).get("data") or {}).get("journal") or []
        return any(
            ((entry.get("valuation_properties") or {}).get("properties") or {}).get("update_id")
            == update_id
            for entry in entries
            if isinstance(entry, dict)
        )

    def _backoff(self, attempt: int) -> float:
        """Full jitter: a uniform wait up to base * 2^attempt, capped."""
        with self._rng_lock:
            return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


def _message(response: requests.Response) -> str:
    """The error message of the seed's error shape, or the start of the body."""
    try:
        body = response.json()
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or response.reason or "no message"
