"""RESULTS.md (the table) and the raw JSON beside it."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Row


def machine() -> str:
    cpus = os.cpu_count()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{platform.machine()}, {cpus} cores, {mem_gb:.0f} GiB, Linux {platform.release()}"


def write(rows: list[Row], out: Path, mode: str, command: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"`{command}` ({mode}) on {date}; machine: {machine()}.",
        "Ironworks and its baseline were measured side by side in the same run (A B A B …);",
        "on a noisy machine only the ratios carry meaning, absolute figures are context.",
        "",
        "| metric | Ironworks | baseline | ratio | unit | conditions |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        baseline = "–" if row.baseline is None else f"{row.baseline:.3g}"
        ratio = "–" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"| {row.metric} | {row.ironworks:.3g} | {baseline} | {ratio} | {row.unit} | "
            f"{row.conditions} |"
        )
    results = out / "RESULTS.md"
    results.write_text("\n".join(lines) + "\n")
    raw = {
        "date": date,
        "machine": machine(),
        "mode": mode,
        "rows": [dataclasses.asdict(r) for r in rows],
    }
    (out / "results.json").write_text(json.dumps(raw, indent=2) + "\n")
    return results
