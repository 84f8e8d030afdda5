"""A minimal Ironworks worker: read the payload, greet, leave a result."""

import json
import os

with open(os.environ["PAYLOAD_FILE"]) as f:
    payload = json.loads(f.read() or "{}")

name = payload.get("name", "world")
print(f"Hello, {name}!")

with open(os.environ["RESULT_FILE"], "w") as f:
    json.dump({"greeted": name}, f)
