"""A client for the identifier API that respects its limits and survives its faults.

One pooled HTTP session; a shared gate that holds every worker back when the API says its
window is spent (`X-RateLimit-Remaining: 0` until `X-RateLimit-Reset`) or answers 429; 429s,
5xx, timeouts and connection errors retried with exponential backoff and full jitter (the UID2
seed's advice); 400, 401 and 403 never retried, their message kept. An update whose outcome
is unknown is looked up in the API's journal before any resend; a 401/403 or a run of
unanswered requests (the circuit breaker) stops every worker. The token is sent in the
Authorization header and appears nowhere else: not in errors, logs or return values.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError

RETRIED_STATUSES = {429, 500, 502, 503, 504}


class ApiRefused(RuntimeError):
    """The API refused our credentials (401/403): no other update can succeed either."""


class ApiUnreachable(RuntimeError):
    """The API did not answer several requests in a row: the circuit breaker is open."""


class DeliveryStopped(RuntimeError):
    """Delivery was asked to stop (the process is shutting down)."""


@dataclass(frozen=True)
class Outcome:
    """How one request ended.

    `halted`: the client stopped before the update succeeded or failed for good; it waits for
    the next run. `in_flight`: the API may hold the update but its journal could not say; it is
    looked up again, never resent blind.
    """

    ok: bool
    status: int | None  # the last HTTP status; None when no answer came
    error: str | None
    attempts: int
    rate_limited: int  # 429s met on the way
    in_flight: bool = False
    halted: bool = False


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

    def acquire(self, halt: threading.Event | None = None) -> bool:
        """Block until a request may go out, and count it; False when `halt` is set first."""
        while True:
            if halt is not None and halt.is_set():
                return False
            with self._lock:
                now = time.time()
                if self._reset_at and now >= self._reset_at:
                    self._remaining, self._reset_at = self._limit, 0.0
                if self._remaining is None or self._remaining > 0:
                    if self._remaining is not None:
                        self._remaining -= 1
                    return True
                delay = self._reset_at - now
            pause = min(max(delay, 0.01), 1.0)
            if halt is not None:
                halt.wait(pause)
            else:
                time.sleep(pause)

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
    """Posts payloads to `{base_url}/identifier`.

    An update whose outcome is unknown (a 5xx, a timeout, a connection lost after sending) is
    looked up in the API's journal before it is sent again; when the journal cannot be read it
    stays in flight. A 401/403 stops every worker at once, and so does the circuit breaker:
    `breaker_failures` connection failures or timeouts in a row, with no answer between them.
    """

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
        breaker_failures: int = 5,
        settle_seconds: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/identifier"
        self.timeout = timeout_seconds
        # how long a request the API did not answer in time may still take to land
        self.settle = timeout_seconds if settle_seconds is None else settle_seconds
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_reset_wait = max_reset_wait
        self.breaker_failures = max(1, breaker_failures)
        self.gate = RateGate(max_reset_wait)
        self.refused: str | None = None
        self.unreachable: str | None = None
        self.stopped = False
        self._halt = threading.Event()
        self._failures = 0
        self._failures_lock = threading.Lock()
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

    def stop(self) -> None:
        """Send nothing more: workers stop before their next request or wait."""
        self.stopped = True
        self._halt.set()

    def wait(self, seconds: float) -> None:
        """Sleep, unless the client halts first."""
        self._halt.wait(seconds)

    @property
    def halted(self) -> bool:
        return self._halt.is_set()

    def raise_if_halted(self, detail: str = "") -> None:
        """Raise why the client stopped sending, if it did (`detail` appended)."""
        suffix = f"; {detail}" if detail else ""
        if self.refused:
            raise ApiRefused(self.refused + suffix)
        if self.unreachable:
            raise ApiUnreachable(self.unreachable + suffix)
        if self.stopped:
            raise DeliveryStopped("delivery stopped" + suffix)

    def post(self, payload: dict, update_id: str | None = None) -> Outcome:
        """Send one payload until it succeeds, fails for good, attempts run out, or the client
        halts.

        With `update_id` (carried in the payload's properties), an attempt whose outcome is
        unknown is followed by a look at the API's journal: a server that recorded the update
        and then failed, or answered too late, has it already, and sending it again would
        repeat it. After a timeout the look waits `settle` seconds, for the request to land.
        """
        body = json.dumps(payload)
        rate_limited = 0
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self.max_attempts + 1):
            if not self.gate.acquire(self._halt):
                return Outcome(False, status, error, attempt - 1, rate_limited, halted=True)
            unknown, timed_out = False, False
            response = self._send(body)
            if isinstance(response, requests.RequestException):
                status, error = None, _describe(response, self.timeout)
                unknown = not _never_sent(response)
                timed_out = isinstance(response, requests.Timeout)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return Outcome(True, status, None, attempt, rate_limited)
                error = _message(response)
                if status not in RETRIED_STATUSES:  # 401 and 403 among them: the client halted
                    return Outcome(False, status, error, attempt, rate_limited)
                if status == 429:
                    rate_limited += 1
                unknown = status >= 500
            if unknown and update_id:
                if timed_out:
                    self._halt.wait(self.settle)
                recorded = self.recorded(payload, update_id)
                if recorded:
                    return Outcome(True, status, None, attempt, rate_limited)
                if recorded is None:
                    error = f"{error}; outcome unknown, the journal could not be read"
                    return Outcome(False, status, error, attempt, rate_limited, in_flight=True)
            if attempt < self.max_attempts:
                self._halt.wait(self._backoff(attempt))
        return Outcome(False, status, error, self.max_attempts, rate_limited)

    def journal(self, payload: dict) -> dict | None:
        """The API's journal for the person a payload names, or None when it cannot be read.

        The request carries only `platform` and one identifier, as the seed's
        `fetch_identity_journal` does: a request without `count_prev_visits` that carries
        `valuation_properties` is itself recorded as an event.
        """
        key = "anonymous_id" if payload.get("anonymous_id") else "email"
        query = {"platform": payload.get("platform"), key: payload.get(key)}
        if not self.gate.acquire(self._halt):
            return None
        response = self._send(json.dumps(query))
        if isinstance(response, requests.RequestException) or response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def recorded(self, payload: dict, update_id: str) -> bool | None:
        """Whether the API's journal for the payload's person holds this update already; None
        when the journal cannot be read (three tries, fewer if the client halts)."""
        journal = None
        for attempt in range(1, 4):
            if self.halted:
                return None
            journal = self.journal(payload)
            if journal is not None:
                break
            if attempt < 3:
                self._halt.wait(self._backoff(attempt))
        if not isinstance(journal, dict) or not isinstance(journal.get("data"), dict):
            return None
        entries = journal["data"].get("journal") or []
        return any(
            ((entry.get("valuation_properties") or {}).get("properties") or {}).get("update_id")
            == update_id
            for entry in entries
            if isinstance(entry, dict)
        )

    def _send(self, body: str) -> requests.Response | requests.RequestException:
        """One request, and what it tells: the API's rate window, a connection failure or an
        answer for the circuit breaker, a refused token (401/403) that halts every worker."""
        try:
            response = self._session.post(self.url, data=body, timeout=self.timeout)
        except requests.RequestException as failure:
            self._no_answer(_describe(failure, self.timeout))
            return failure
        with self._failures_lock:
            self._failures = 0
        self.gate.observe(response.status_code, response.headers)
        if response.status_code in (401, 403):
            self.refused = (
                f"the identifier API refused the token ({response.status_code}: "
                f"{_message(response)}); check IDENTITY_API_TOKEN"
            )
            self._halt.set()
        return response

    def _no_answer(self, error: str) -> None:
        """Count a connection failure or timeout; enough of them in a row open the breaker."""
        with self._failures_lock:
            self._failures += 1
            if self._failures < self.breaker_failures or self.unreachable:
                return
            self.unreachable = (
                f"the identifier API at {_without_credentials(self.url)} is unreachable: "
                f"{self._failures} requests in a row got no answer (last: {error})"
            )
        self._halt.set()

    def _backoff(self, attempt: int) -> float:
        """Full jitter: a uniform wait up to base * 2^attempt, capped."""
        with self._rng_lock:
            return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


def _never_sent(failure: requests.RequestException) -> bool:
    """Whether the request certainly never reached the API (no connection was made)."""
    if isinstance(failure, requests.ConnectTimeout):
        return True
    reason = getattr(failure.args[0], "reason", None) if failure.args else None
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError included


def _describe(failure: requests.RequestException, timeout: float) -> str:
    if isinstance(failure, requests.Timeout) and not isinstance(failure, requests.ConnectTimeout):
        return f"timed out after {timeout:g}s"
    if _never_sent(failure):
        return "connection failed: could not connect"
    return f"connection failed: {type(failure).__name__}"


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _message(response: requests.Response) -> str:
    """The error message of the seed's error shape, or the start of the body."""
    try:
        body = response.json()
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or response.reason or "no message"
