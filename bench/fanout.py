"""Fan-out from inside a task against the same work queued from outside: a parent that
queues 100 no-op children over its API socket and gathers them (task.map), beside one batch
of 100 no-ops queued and awaited by a client outside, on the same platform, A B A B."""

from __future__ import annotations

import io
import json
import time
import zipfile
from statistics import median

from bench.harness import Row, interleave, platform, upload_noop
from ironworks.client import Client

CHILDREN, RUNS, SLOTS = 100, 3, 4
PARENT = (
    "import json, os\n"
    "from ironworks import task\n"
    f"results = task.map('noop', [str(i) for i in range({CHILDREN})])\n"
    "json.dump({'children': len(results)}, open(os.environ['RESULT_FILE'], 'w'))\n"
)


def fanout(scale: object) -> list[Row]:
    with platform(runner_slots=SLOTS) as running:
        project = running.project("fanout")
        upload_noop(project)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("main.py", PARENT)
        project.upload_code(
            archive.getvalue(), {"name": "parent", "stack": "python", "command": "python3 main.py"}
        )
        _inside(project)  # the images and the code cache, warmed once
        inside, outside = interleave(lambda: _inside(project), lambda: _outside(project), RUNS)
    conditions = (
        f"{CHILDREN} sh no-op children, {SLOTS} slots, median of {RUNS}, wall time from the"
        " first POST to all results read; baseline: one batch of as many no-ops queued and"
        " awaited from outside"
    )
    samples = {"inside_s": inside, "outside_s": outside}
    return [Row("fan-out from a task, gathered", median(inside), median(outside), "s", conditions,
                samples)]  # fmt: skip


def _inside(project: Client) -> float:
    started = time.monotonic()
    task = project.wait(project.queue("parent", timeout=600), timeout_s=900)
    assert task["status"] == "complete", task
    assert json.loads(task["result"]) == {"children": CHILDREN}
    return time.monotonic() - started


def _outside(project: Client) -> float:
    started = time.monotonic()
    batch = project.create_batch("noop", [str(i) for i in range(CHILDREN)])
    ended = project.wait_batch(batch["id"], timeout_s=900)
    assert ended["status"] == "complete", ended
    list(project.batch_results(batch["id"]))
    return time.monotonic() - started
