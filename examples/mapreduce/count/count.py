"""Reduce step: the payload is the list of the map results, in order (null for an item that
failed). Result: how many numbers were prime, and how many items had no result."""

import json
import os

with open(os.environ["PAYLOAD_FILE"]) as f:
    results = json.load(f)

primes = sum(1 for r in results if r and r["prime"])
missing = sum(1 for r in results if r is None)
print(f"{primes} primes among {len(results)} numbers ({missing} without a result)")

with open(os.environ["RESULT_FILE"], "w") as f:
    json.dump({"primes": primes, "missing": missing}, f)
