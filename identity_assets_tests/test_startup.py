"""What a run's fixed cost depends on: the definitions load without what only some runs need
(benchmarks/startup.py measures it)."""

from __future__ import annotations

import subprocess
import sys


def test_the_definitions_load_without_scipy_pandas_or_the_adbc_driver() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, identity_assets.definitions; print(sorted(sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "'identity_assets.definitions'" in loaded
    # the value model's fit, and a new snapshot file's rows (with pyarrow's datasets and pandas)
    for module in ("scipy", "pandas", "adbc_driver_sqlite"):
        assert f"'{module}'" not in loaded
