#!/bin/sh
# sh stack (busybox): read the payload, report progress, write a result.
set -e
payload=$(cat "$PAYLOAD_FILE")
echo '{"percent": 50, "msg": "halfway"}' > "$PROGRESS_FILE"
echo "sh worker got: $payload"
echo '{"percent": 100, "msg": "done"}' > "$PROGRESS_FILE"
printf '{"stack": "sh", "payload": %s}\n' "$payload" > "$RESULT_FILE"
