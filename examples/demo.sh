#!/usr/bin/env bash
# The demo: start the platform, create a project, upload examples/hello, run it, show its log.
# Everything it creates lives in a temporary directory and goes away with it.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/.venv/bin:$PATH"
work=$(mktemp -d)
export XDG_CONFIG_HOME="$work/config"
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

ironworks dev --port "$port" --data-dir "$work/data" >"$work/dev.log" 2>&1 &
dev_pid=$!
trap 'kill $dev_pid 2>/dev/null; wait $dev_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 60); do
  grep -q "Ironworks is running" "$work/dev.log" && break
  kill -0 $dev_pid 2>/dev/null || { cat "$work/dev.log"; exit 1; }
  sleep 0.5
done
grep "Ironworks is running" "$work/dev.log"

set -x
ironworks project create demo
ironworks upload examples/hello --name hello --stack python --command "python3 hello.py"
ironworks queue hello --payload '{"name": "Ironworks"}' --wait
{ set +x; } 2>/dev/null
