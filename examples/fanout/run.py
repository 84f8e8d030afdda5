"""Fan-out from inside a task: a master queues 20 workers and sums what they return.

    python examples/fanout/run.py        # after `ironworks dev` (or with IRONWORKS_* set)

Uploads both codes, queues the master and prints {"sum": 2870, "children": 20}.
"""

from __future__ import annotations

import json
from pathlib import Path

from ironworks.cli.common import client
from ironworks.cli.main import zip_directory
from ironworks.client import Client

HERE = Path(__file__).parent


def upload(api: Client) -> None:
    for name in ("master", "square"):
        data = {"name": name, "stack": "python", "command": f"python3 {name}.py"}
        api.upload_code(zip_directory(HERE / name), data)


def main(api: Client | None = None, numbers: int = 20) -> dict:
    api = api or client()
    upload(api)
    task_id = api.queue("master", json.dumps({"numbers": list(range(1, numbers + 1))}))
    task = api.wait(task_id, timeout_s=600)
    if task["status"] != "complete":
        raise SystemExit(f"master ended {task['status']}: {task.get('msg')}")
    return json.loads(task["result"])


if __name__ == "__main__":
    print(json.dumps(main()))
