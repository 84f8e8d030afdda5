"""The benchmark harness, run at its smallest so that it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.harness import ROOT


def test_smallest_benchmark_runs_and_writes_its_table(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "latency", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    table = (tmp_path / "RESULTS.md").read_text()
    assert "| task latency p50 |" in table and "| 3 sequential light tasks |" in table
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    p50 = next(r for r in rows if r["metric"] == "task latency p50")
    assert p50["ironworks"] > 0 and p50["baseline"] > 0
    assert len(p50["samples"]["ironworks_s"]) == len(p50["samples"]["bare_s"]) == 2
