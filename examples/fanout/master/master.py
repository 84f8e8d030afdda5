"""The master: fans out one `square` task per number in its payload, gathers their results
and writes the sum as its own result. Queued from inside its container, over its API socket:
no token, no network (docs/worker-contract.md)."""

import json
import os

from ironworks import task

numbers = json.load(open(os.environ["PAYLOAD_FILE"]))["numbers"]
results = task.map("square", [{"n": n} for n in numbers])
with open(os.environ["RESULT_FILE"], "w") as out:
    json.dump({"sum": sum(r["square"] for r in results), "children": len(results)}, out)
