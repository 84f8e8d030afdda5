"""The sandbox, proven from inside: a probe task asserts what it cannot do, and hostile tasks
(fork bomb, memory hog, log flood) end as they should while the runner keeps serving."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from ironworks.cli.main import zip_directory
from tests.conftest import ADMIN_TOKEN, ROOT, zip_files

PROBE = r"""
import json, os, socket

def can_write(path):
    try:
        open(path, "w").close()
        return True
    except OSError:
        return False

def can_connect(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False

def gateway():
    for line in open("/proc/net/route").read().splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            return socket.inet_ntoa(bytes.fromhex(fields[2])[::-1])
    return None

lines = open("/proc/self/status").read().splitlines()
status = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
targets = json.load(open(os.environ["PAYLOAD_FILE"]))
hosts = ["127.0.0.1"] + ([gateway()] if gateway() else [])
json.dump({
    "uid": os.getuid(),
    "cap_eff": status["CapEff"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "write_root": can_write("/probe"),
    "write_etc": can_write("/etc/probe"),
    "write_tmp": can_write("/tmp/probe"),
    "interfaces": sorted(os.listdir("/sys/class/net")),
    "reachable": [f"{h}:{p}" for h in hosts for p in targets["ports"] if can_connect(h, p)],
    "environ": dict(os.environ),
}, open(os.environ["RESULT_FILE"], "w"))
"""

EXPECTED_ENV = {
    "TASK_ID", "PAYLOAD_FILE", "CONFIG_FILE", "TASK_DIR", "RESULT_FILE", "PROGRESS_FILE",
    "HOME", "PATH", "HOSTNAME", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "GREETING",
    "PWD", "LC_CTYPE",  # set by the shell and by Python's locale coercion
}  # fmt: skip


@pytest.fixture(scope="module")
def listener():
    """A service on all of the host's addresses, as a careless deployment would run Redis."""
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def run_probe(platform, listener, network: bool) -> dict:
    project = platform.new_project(f"probe-{network}")
    data = {"name": "probe", "stack": "python", "command": "python3 probe.py",
            "network": network, "env_vars": {"GREETING": "hi"}}  # fmt: skip
    project.upload_code(zip_files({"probe.py": PROBE}), data)
    api_port = int(platform.url.rsplit(":", 1)[1])
    redis_port = int(platform.settings.redis_url.rsplit(":", 1)[1].split("/")[0])
    payload = json.dumps({"ports": [redis_port, api_port, listener]})
    task = project.wait(project.queue("probe", payload), timeout_s=60)
    assert task["status"] == "complete", (task, project.log(task["id"]))
    return json.loads(task["result"])


@pytest.mark.parametrize("network", [False, True], ids=["default", "network"])
def test_probe_finds_every_wall_in_place(platform, listener, network):
    found = run_probe(platform, listener, network)
    assert found["uid"] != 0
    assert found["cap_eff"] == "0000000000000000"
    assert found["no_new_privs"] == "1"
    assert (found["write_root"], found["write_etc"], found["write_tmp"]) == (False, False, True)
    assert found["interfaces"] == (["eth0", "lo"] if network else ["lo"])
    assert found["reachable"] == []
    assert set(found["environ"]) <= EXPECTED_ENV
    secrets = (ADMIN_TOKEN, platform.settings.redis_url)
    assert not any(s in v for s in secrets for v in found["environ"].values())


def test_fork_bomb_stops_at_the_pids_limit_and_the_runner_keeps_serving(platform):
    project = platform.new_project("bomb")
    bomb = "bomb() { bomb | bomb & }; bomb; sleep 30"
    project.upload_code(zip_files({"run.sh": bomb}), {"name": "bomb", "command": "sh run.sh"})
    project.upload_code(zip_files({"run.sh": "echo fine"}), {"name": "ok", "command": "sh run.sh"})
    bomb_id = project.queue("bomb", timeout=8)
    ok = project.wait(project.queue("ok"), timeout_s=60)
    assert ok["status"] == "complete" and project.log(ok["id"]) == "fine\n"
    assert project.task(bomb_id)["status"] == "running"  # still contained while others ran
    assert project.wait(bomb_id, timeout_s=60)["status"] == "timeout"


def test_memory_hog_is_killed_for_running_out_of_memory(platform):
    project = platform.new_project("hog")
    hog = "x = bytearray(512 * 1024 * 1024)\nprint('survived')\n"
    data = {"name": "hog", "stack": "python", "command": "python3 hog.py", "memory": 64}
    project.upload_code(zip_files({"hog.py": hog}), data)
    task = project.wait(project.queue("hog"), timeout_s=60)
    assert task["status"] == "killed" and "out of memory" in task["msg"]
    assert "survived" not in project.log(task["id"])


@pytest.mark.slow
def test_log_flood_is_cut_at_the_cap_with_a_mark_and_the_exit_status_kept(platform):
    project = platform.new_project("flood")
    line = "0123456789" * 10
    flood = f"yes {line} | head -c 1000000000; exit 3"
    project.upload_code(zip_files({"run.sh": flood}), {"name": "flood", "command": "sh run.sh"})
    task = project.wait(project.queue("flood", timeout=600), timeout_s=600)
    assert (task["status"], task["exit_code"]) == ("error", 3)
    log = project.log(task["id"])
    cap = platform.settings.log_max_bytes
    assert cap <= len(log) <= cap + 200
    assert log.rstrip("\n").splitlines()[-1].startswith("[ironworks] log truncated")
    assert set(log[: cap // 2].split("\n")[:-1]) == {line}  # nothing lost before the cap


@pytest.mark.parametrize(
    "stack,command",
    [("sh", "sh worker.sh"), ("python", "python3 worker.py"),
     ("node", "node worker.js"), ("ruby", "ruby worker.rb")],
)  # fmt: skip
def test_each_stacks_example_reads_payload_writes_result_and_reports_progress(
    platform, stack, command
):
    project = platform.new_project(f"stack-{stack}")
    archive = zip_directory(ROOT / "examples" / "stacks" / stack)
    project.upload_code(archive, {"name": stack, "stack": stack, "command": command})
    task = project.wait(project.queue(stack, '{"n": 7}'), timeout_s=120)
    assert task["status"] == "complete", project.log(task["id"])
    assert f"{stack} worker got:" in project.log(task["id"])
    assert json.loads(task["result"]) == {"stack": stack, "payload": {"n": 7}}
    assert task["percent"] == 100


def test_resource_use_is_recorded(platform):
    project = platform.new_project("usage")
    work = (
        "import time\nx = bytearray(80 * 1024 * 1024)\nend = time.time() + 2.5\n"
        "while time.time() < end:\n    pass\n"
    )
    data = {"name": "work", "stack": "python", "command": "python3 work.py"}
    project.upload_code(zip_files({"work.py": work}), data)
    task = project.wait(project.queue("work"), timeout_s=60)
    assert task["status"] == "complete"
    assert task["usage"]["peak_memory_bytes"] >= 80 * 1024 * 1024
    assert 1.0 <= task["usage"]["cpu_seconds"] <= 10
