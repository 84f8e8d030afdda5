"""A worker: squares the number in its payload."""

import json
import os

n = json.load(open(os.environ["PAYLOAD_FILE"]))["n"]
with open(os.environ["RESULT_FILE"], "w") as out:
    json.dump({"n": n, "square": n * n}, out)
