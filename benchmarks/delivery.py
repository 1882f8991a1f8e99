"""Delivery benchmark: segment updates pushed to the stand-in API under limits and faults.

Usage:
    python benchmarks/delivery.py [--updates 2000] [--rate-limit 50] [--fail-rate 0.1]
        [--fail-after-record-rate 0.0] [--concurrency 8]

It starts `identity-assets dev-endpoint` on 127.0.0.1 (in its own process group, stopped at
the end), queues one update per identity of a synthetic warehouse, delivers them, and prints
updates/s, requests, retries, 429s met, updates lost (queued but never recorded by the server)
and updates recorded twice. Figures go to benchmarks/out/delivery.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from datetime import date
from pathlib import Path

import duckdb

from identity_assets.segments.client import IdentifierClient
from identity_assets.segments.membership import update_membership
from identity_assets.segments.outbox import deliver_updates, queue_updates
from identity_assets.segments.rules import SegmentRule
from identity_assets_tests.builders import valued_warehouse

OUT = Path(__file__).resolve().parent / "out"
CLI = Path(sys.executable).with_name("identity-assets")
TOKEN = "benchmark-token"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rate-limit", type=int, default=50)
    parser.add_argument("--fail-rate", type=float, default=0.1)
    parser.add_argument("--fail-after-record-rate", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    server = subprocess.Popen(
        [str(CLI), "dev-endpoint", "--port", "0", "--token", TOKEN,
         "--rate-limit", str(args.rate_limit), "--fail-rate", str(args.fail_rate),
         "--fail-after-record-rate", str(args.fail_after_record_rate)],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        port = re.search(r":(\d+)/api/v1", server.stdout.readline()).group(1)
        url = f"http://127.0.0.1:{port}/api/v1"
        conn = duckdb.connect()
        valued_warehouse(conn, [2000.0] * args.updates)
        update_membership(conn, (SegmentRule("high_value_predicted", "true"),))
        queue_updates(conn, "benchmark")
        client = IdentifierClient(url, TOKEN, max_attempts=10)
        result = deliver_updates(conn, client, concurrency=args.concurrency)
        with urllib.request.urlopen(url + "/stats") as answer:
            stats = json.loads(answer.read())
        unsent = conn.execute(
            "select count(*) from segment_updates where status <> 'sent'"
        ).fetchall()[0][0]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    figures = {
        "date": date.today().isoformat(),
        "settings": vars(args),
        "updates": args.updates,
        "sent": result.sent,
        "failed": result.failed,
        "unsent_after_run": unsent,
        "seconds": round(result.seconds, 2),
        "updates_per_second": round(result.per_second, 1),
        "requests": result.requests,
        "retries": result.retries,
        "rate_limited_429s": result.rate_limited,
        "lost": args.updates - stats["update_ids"],
        "recorded_twice": stats["recorded_twice"],
        "server_statuses": stats["statuses"],
    }
    for key, value in figures.items():
        print(f"{key:<20} {value}")
    OUT.mkdir(exist_ok=True)
    (OUT / "delivery.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
