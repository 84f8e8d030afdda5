"""python stack: read the payload, report progress, write a result."""

import json
import os


def progress(percent, msg):
    with open(os.environ["PROGRESS_FILE"], "w") as f:
        json.dump({"percent": percent, "msg": msg}, f)


payload = json.load(open(os.environ["PAYLOAD_FILE"]))
progress(50, "halfway")
print("python worker got:", json.dumps(payload))
progress(100, "done")
json.dump({"stack": "python", "payload": payload}, open(os.environ["RESULT_FILE"], "w"))
