"""`python -m bench [--quick] [--only NAME ...]`: run the benchmarks, write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from bench import report
from bench.cases import CASES, Scale
from bench.harness import settle


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="smaller runs (under 10 minutes)")
    sizes.add_argument("--smoke", action="store_true", help="tiny runs: does the harness work?")
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), help="run only these")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="where to write")
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    scale = getattr(Scale, mode)()
    rows = []
    command = ("python -m bench " + shlex.join(sys.argv[1:])).strip()
    for name in args.only or CASES:
        settle()  # what the last case left behind, done
        started = time.monotonic()
        print(f"bench: {name}…", file=sys.stderr, flush=True)
        rows += CASES[name](scale)
        print(f"bench: {name} took {time.monotonic() - started:.0f} s", file=sys.stderr)
        written = report.write(rows, args.out, mode, command)  # a later failure keeps these
    print(written.read_text())


if __name__ == "__main__":
    main()
