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
    """Shared by all workers: nobody sends before `open_at` (an epoch second)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_at = 0.0

    def wait(self) -> None:
        while True:
            with self._lock:
                delay = self._open_at - time.time()
            if delay <= 0:
                return
            time.sleep(min(delay, 1.0))

    def close_until(self, epoch: float) -> None:
        with self._lock:
            self._open_at = max(self._open_at, epoch)


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
        self.gate = RateGate()
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

    def post(self, payload: dict) -> Outcome:
        """Send one payload until it succeeds, fails for good, or attempts run out."""
        body = json.dumps(payload)
        rate_limited = 0
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self.max_attempts + 1):
            self.gate.wait()
            try:
                response = self._session.post(self.url, data=body, timeout=self.timeout)
            except requests.Timeout:
                status, error = None, f"timed out after {self.timeout:g}s"
            except requests.ConnectionError as failure:
                status, error = None, f"connection failed: {type(failure).__name__}"
            else:
                status = response.status_code
                self._respect_limits(response)
                if 200 <= status < 300:
                    return Outcome(True, status, None, attempt, rate_limited)
                error = _message(response)
                if status in (401, 403):
                    raise ApiRefused(
                        f"the identifier API refused the token ({status}: {error}); "
                        "check IDENTITY_API_TOKEN"
                    )
                if status not in RETRIED_STATUSES:
                    return Outcome(False, status, error, attempt, rate_limited)
                if status == 429:
                    rate_limited += 1
            if attempt < self.max_attempts:
                time.sleep(self._backoff(attempt))
        return Outcome(False, status, error, self.max_attempts, rate_limited)

    def journal(self, payload: dict) -> dict | None:
        """The API's journal for the person a payload names (the payload minus
        `count_prev_visits`), or None when it cannot be read."""
        query = {k: v for k, v in payload.items() if k != "count_prev_visits"}
        try:
            response = self._session.post(self.url, data=json.dumps(query), timeout=self.timeout)
        except requests.RequestException:
            return None
        self._respect_limits(response)
        if response.status_code != 200:
            return None
        return response.json()

    def _respect_limits(self, response: requests.Response) -> None:
        """Close the gate until the window resets when the API says it is spent."""
        headers = response.headers
        remaining = headers.get("X-RateLimit-Remaining")
        reset = headers.get("X-RateLimit-Reset")
        retry_after = headers.get("Retry-After")
        now = time.time()
        if response.status_code == 429 and retry_after and retry_after.isdigit():
            self.gate.close_until(now + min(int(retry_after), self.max_reset_wait))
        if remaining is not None and reset and remaining.strip() in ("0", "-1"):
            try:
                until = float(reset)
            except ValueError:
                return
            # a Reset that is a small number is seconds from now, a large one an epoch second
            until = now + until if until < 10**9 else until
            self.gate.close_until(min(until, now + self.max_reset_wait))

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
