"""Map step: is the payload's number prime? Result: {"n": n, "prime": true|false}."""

import json
import os

with open(os.environ["PAYLOAD_FILE"]) as f:
    n = json.load(f)["n"]

prime = n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))

with open(os.environ["RESULT_FILE"], "w") as f:
    json.dump({"n": n, "prime": prime}, f)
