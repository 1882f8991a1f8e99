"""Open the asset graph in headless Chromium after a real run, and save screenshots.

Usage:
    python scripts/ui_screenshot.py [--out docs/asset-graph.png]

It writes a small sample, starts `dagster-webserver` on 127.0.0.1 (its own process group,
always stopped), launches the daily job for one day over GraphQL, waits for it, then opens the
lineage page (the stages) and the identity group's page (its assets with their checks and
latest materialisations) with Playwright driving the system's Chromium (`apt-get install
chromium`, `pip install playwright`; CHROMIUM names another binary) and saves both pictures:
--out and `identity-group.png` beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from identity_assets.definitions import DAILY_JOB_NAME
from identity_assets.sample import SampleConfig, write_sample
from identity_assets_tests.dagster_ui import LOCATION, ROOT, dagster_ui


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "asset-graph.png")
    args = parser.parse_args()
    chromium = os.getenv("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("ui_screenshot: no chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        write_sample(work / "landing", SampleConfig(people=200, days=2, history_days=60))
        env = {
            "IDENTITY_LANDING_DIR": str(work / "landing"),
            "IDENTITY_DUCKDB_PATH": str(work / "identity.duckdb"),
        }
        with dagster_ui(work, env) as ui:
            status = ui.wait_for_run(ui.launch_partition(DAILY_JOB_NAME, "2026-11-20"))
            print(f"ui_screenshot: the day's run ended {status}")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox"]
                )
                page = browser.new_page(viewport={"width": 1600, "height": 900})
                args.out.parent.mkdir(parents=True, exist_ok=True)
                group = args.out.with_name("identity-group.png")
                pages = (
                    ("/asset-groups", args.out, 900),
                    (f"/locations/{LOCATION}/asset-groups/identity", group, 1250),
                )
                for path, out, height in pages:
                    page.set_viewport_size({"width": 1600, "height": height})
                    page.goto(ui.url + path, wait_until="networkidle")
                    skip = page.get_by_role("button", name="Skip")  # first-visit newsletter box
                    if skip.count():
                        skip.click()
                    page.wait_for_timeout(2500)
                    page.screenshot(path=str(out))
                    print(f"ui_screenshot: saved {out}")
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
