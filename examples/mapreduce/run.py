"""Map-reduce with the Python SDK: is n prime, for n in 1..1000, then count the primes.

    python examples/mapreduce/run.py        # after `ironworks dev` (or with IRONWORKS_* set)

Uploads both workers, runs the batch and prints {"primes": 168, "missing": 0}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ironworks.cli.common import client
from ironworks.cli.main import zip_directory
from ironworks.client import Batch, Client

HERE = Path(__file__).parent


def upload_workers(api: Client) -> None:
    for name in ("is_prime", "count"):
        data = {"name": name, "stack": "python", "command": f"python3 {name}.py"}
        api.upload_code(zip_directory(HERE / name), data)


def main(numbers: int = 1000) -> dict:
    api = client()
    upload_workers(api)
    payloads = [{"n": n} for n in range(1, numbers + 1)]
    return Batch("is_prime", payloads, reduce="count", client=api).run()


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)))
