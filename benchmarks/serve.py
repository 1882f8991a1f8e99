"""Serving benchmark: `identity-assets serve` under concurrent clients, and through a run.

Usage:
    python benchmarks/serve.py [--lines 1000000] [--days 10] [--clients 8] [--seconds 20]

It writes (or reuses) sample exports, runs `identity-assets run` over every day but the last
into a fresh warehouse (which publishes the first snapshot), starts `identity-assets serve` on
127.0.0.1 in its own process group, and then, with --clients threads each holding one
keep-alive connection and asking for journals and profiles of random known people (one
journal in two by the email's UID2 hash, which the identifier API takes as `email` too):
  steady   --seconds of look-ups: requests/s, latency p50 / p99 / max;
  run      `identity-assets run --day <last day>` while the clients keep asking: the run holds
           the warehouse and publishes a new snapshot in the middle; failed look-ups (any
           answer but 200, or no answer) are counted, and the versions answers came from.
  after    --seconds of look-ups again, on the version the day made: its journal rows are
           in the recent part of the index by identity, the history's in the folded one.
The snapshot step's time is read from each run's log: the history's (a new file) and the last
day's (what changed, applied in place). The load average is reported at start and end: the
clients are threads of this process, on the same cores as the server.
Everything stays on the loopback and is bounded: the server is stopped at the end whatever
happens. Figures go to benchmarks/out/serve-<lines>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import OUT, generate_landing, write_report

from identity_assets_tests.processes import answers, free_port, running, wait_until

CLI = Path(sys.executable).with_name("identity-assets")
TOKEN, PARTNER, REQUEST_TOKEN = "bench-token", "bench", "bench-request-token"
SAMPLE_PEOPLE = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--memory-limit", default="3GB")
    args = parser.parse_args()

    landing, lines = generate_landing(args.lines, args.days)
    days = sorted(p.name for p in landing.iterdir() if p.name[:1].isdigit())
    work = OUT / f"serve-{args.lines}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {
        **os.environ,
        "IDENTITY_LANDING_DIR": str(landing),
        "IDENTITY_DUCKDB_PATH": str(work / "identity.duckdb"),
        "IDENTITY_DUCKDB_MEMORY_LIMIT": args.memory_limit,
        "IDENTITY_FIRST_DAY": days[0],
        "IDENTITY_API_TOKEN": "",
        "IDENTITY_SERVE_TOKENS": TOKEN,
        "IDENTITY_SERVE_PROFILE_TOKENS": f"{PARTNER}:{REQUEST_TOKEN}",
        "IDENTITY_SERVE_QUOTA": str(10**9),
    }
    env.pop("DAGSTER_HOME", None)
    started = time.perf_counter()
    _run(env, [a for day in days[:-1] for a in ("--day", day)], work / "history.log")
    print(f"{lines:,} lines: every day but the last run in {time.perf_counter() - started:.0f}s")
    people = _people(work / "serving")
    report: dict = {
        "lines": lines,
        "days": args.days,
        "clients": args.clients,
        "load_average_at_start": os.getloadavg(),
        "snapshot_history": _snapshot_step(work / "history.log"),
    }
    with _server(env, work / "serve.log") as port:
        report["steady"] = _load(port, people, args.clients, lambda: time.sleep(args.seconds))
        _say("steady", report["steady"])
        report["run"] = _load(
            port, people, args.clients, lambda: _run(env, ["--day", days[-1]], work / "day.log")
        )
        _say("during a run", report["run"])
        # the day's journal rows are now in the recent part of the index by identity (0036)
        report["after_the_day"] = _load(
            port, people, args.clients, lambda: time.sleep(args.seconds)
        )
        _say("after the day", report["after_the_day"])
    report["snapshot_day"] = _snapshot_step(work / "day.log")
    report["load_average_at_end"] = os.getloadavg()
    print(f"snapshot step: history {report['snapshot_history']}, day {report['snapshot_day']}")
    write_report(f"serve-{args.lines}", report)


def _run(env: dict, days: list[str], log: Path) -> None:
    with log.open("w") as out:
        done = subprocess.run([str(CLI), "run", *days], env=env, stdout=out, stderr=out)
    if done.returncode != 0:
        raise SystemExit(f"the run failed: see {log}")


def _snapshot_step(log: Path) -> str | None:
    """What the serving step of a run logged: how it published, and in how long."""
    found = re.findall(
        r"serving: published version \d+ in \S+ \((.*)\) in ([0-9.]+)s", log.read_text()
    )
    return f"{found[-1][1]} s ({found[-1][0]})" if found else None


def _people(serving: Path) -> list[tuple[str, str]]:
    """(email, its UID2 hash) of people in the published snapshot: the first by identity id (a
    digest, so a spread of people)."""
    from identity_assets.identity.normalise import uid2_hash
    from identity_assets.serving.snapshot import open_current

    with open_current(serving) as (_, conn):
        rows = conn.execute(
            "select identifier_value from identity_map "
            "where identifier_type = 'email' order by identity_id limit ?",
            [SAMPLE_PEOPLE],
        ).fetchall()
    return [(email, uid2_hash(email)) for (email,) in rows]


@contextlib.contextmanager
def _server(env: dict, log: Path):
    port = free_port()
    command = [str(CLI), "serve", "--port", str(port), "--log-level", "warning"]
    with running(command, grace=20, log=log, env=env) as server:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 60, process=server, log=log)
        yield port


def _load(port: int, people: list, clients: int, during) -> dict:
    """Clients asking until `during()` returns; latencies, failures and versions seen."""
    stop = threading.Event()
    latencies: list[float] = []
    failures: list[str] = []
    versions: set[int] = set()
    lock = threading.Lock()

    def client(seed: int) -> None:
        chosen = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, failed = [], []
        n = 0
        while not stop.is_set():
            email, hashed = chosen.choice(people)
            path, body, headers = _request(email, hashed, n)
            n += 1
            began = time.perf_counter()
            try:
                connection.request("POST", path, json.dumps(body), headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                failed.append(type(error).__name__)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append(time.perf_counter() - began)
            if status != 200:
                failed.append(str(status))
        connection.close()
        with lock:
            latencies.extend(mine)
            failures.extend(failed)

    def watch() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            connection.request("GET", "/healthz")
            versions.add(json.loads(connection.getresponse().read())["snapshot"]["version"])
            time.sleep(0.2)
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    threads.append(threading.Thread(target=watch))
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        during()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    seconds = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "seconds": round(seconds, 1),
        "requests": len(ordered) + len(failures),
        "requests_per_second": round(len(ordered) / seconds, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 2) if ordered else None,
        "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2) if ordered else None,
        "max_ms": round(1000 * ordered[-1], 2) if ordered else None,
        "failed": len(failures),
        "failures": sorted(set(failures)),
        "snapshot_versions": sorted(versions),
    }


def _request(email: str, hashed: str, n: int) -> tuple[str, dict, dict]:
    """Every other request a journal (by the email, or every other one by its UID2 hash, which
    the identifier API takes as `email` too), the others a profile with attributes and two
    events."""
    if n % 2 == 0:
        body = {"platform": "bench", "email": email if n % 4 == 0 else hashed}
        return "/api/v1/identifier", body, {"Authorization": f"Bearer {TOKEN}"}
    body = {
        "identifiers": {"email": email},
        "attributes": ["email", "name", "surname"],
        "events": {
            "start_date": 0,
            "end_date": 4_102_444_800,
            "wanted": [
                {"event_name": "order_completed", "params": ["order_id", "timestamp"]},
                {"event_name": "product_viewed", "params": ["product_id"]},
            ],
        },
    }
    headers = {"X-PARTNER-NAME": PARTNER, "X-REQUEST-TOKEN": REQUEST_TOKEN}
    return "/api/user/v1/profile", body, headers


def _say(phase: str, figures: dict) -> None:
    print(
        f"{phase:>13}: {figures['requests_per_second']:>7,.0f} req/s  "
        f"p50 {figures['p50_ms']} ms  p99 {figures['p99_ms']} ms  max {figures['max_ms']} ms  "
        f"failed {figures['failed']} of {figures['requests']:,}  "
        f"snapshot versions {figures['snapshot_versions']}"
    )


if __name__ == "__main__":
    main()
