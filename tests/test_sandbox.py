"""The sandbox, proven from inside: a probe task asserts what it cannot do, and hostile tasks
(fork bomb, memory hog, log flood) end as they should while the runner keeps serving."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from ironworks.cli.main import zip_directory
from ironworks.settings import Settings
from runner.spec import LABEL_TASK
from tests.harness import ADMIN_TOKEN, ROOT, wait_until, zip_files
from tests.helpers import queue_as_run

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
routed = [tuple(a.rsplit(":", 1)) for a in targets["routed"]]
json.dump({
    "uid": os.getuid(),
    "cap_eff": status["CapEff"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "write_root": can_write("/probe"),
    "write_etc": can_write("/etc/probe"),
    "write_tmp": can_write("/tmp/probe"),
    "interfaces": sorted(os.listdir("/sys/class/net")),
    "reachable": [f"{h}:{p}" for h in hosts for p in targets["ports"] if can_connect(h, p)]
    + [f"{h}:{p}" for h, p in routed if can_connect(h, int(p))],
    "ipv6_addresses": open("/proc/net/if_inet6").read().split("\n")[:-1]
    if os.path.exists("/proc/net/if_inet6") else [],
    "environ": dict(os.environ),
}, open(os.environ["RESULT_FILE"], "w"))
"""

EXPECTED_ENV = {
    "TASK_ID", "PAYLOAD_FILE", "CONFIG_FILE", "TASK_DIR", "RESULT_FILE", "PROGRESS_FILE",
    "HOME", "PATH", "HOSTNAME", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "GREETING",
    "PWD", "LC_CTYPE",  # set by the shell and by Python's locale coercion
    # The task's API socket (docs/worker-contract.md), and where the python stack keeps the
    # SDK's in-task side: no token among them.
    "IRONWORKS_API_SOCKET", "IRONWORKS_PROJECT_ID", "PYTHONPATH",
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


# Hosts beyond this one, each in a network namespace of its own behind a veth pair, so that
# traffic to them leaves through the host's routing as traffic to another machine would.
PUBLIC_HOST = "198.18.0.2"  # the benchmarking range: a stand-in for the internet
CGNAT_HOST = "100.64.0.2"  # carrier-grade NAT space, where some clouds put their own hosts
ROUTED_PORT = 8765
LISTEN = (
    "import socket\n"
    f"s = socket.create_server(('0.0.0.0', {ROUTED_PORT}))\n"
    "while True: s.accept()[0].close()\n"
)


@pytest.fixture(scope="module")
def routed_hosts():
    """Two listeners this host can reach: one the task must reach too, one it must not."""
    made = [_routed_host("iwt-pub", PUBLIC_HOST), _routed_host("iwt-cgn", CGNAT_HOST)]
    try:
        for host in (PUBLIC_HOST, CGNAT_HOST):  # the set-up itself works
            _wait_connectable(host, ROUTED_PORT)
        yield {"public": f"{PUBLIC_HOST}:{ROUTED_PORT}", "cgnat": f"{CGNAT_HOST}:{ROUTED_PORT}"}
    finally:
        for name, process in made:
            process.kill()
            process.wait()
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _routed_host(name: str, address: str) -> tuple[str, subprocess.Popen]:
    """A namespace `name` holding `address`/30, the host side taking the address before it."""
    host_side = address.rsplit(".", 1)[0] + "." + str(int(address.rsplit(".", 1)[1]) - 1)
    subprocess.run(["ip", "netns", "del", name], capture_output=True)  # a crashed run's
    for command in (
        f"ip netns add {name}",
        f"ip link add {name}-h type veth peer name {name}-n",
        f"ip link set {name}-n netns {name}",
        f"ip addr add {host_side}/30 dev {name}-h",
        f"ip link set {name}-h up",
        f"ip netns exec {name} ip addr add {address}/30 dev {name}-n",
        f"ip netns exec {name} ip link set {name}-n up",
        f"ip netns exec {name} ip link set lo up",
    ):
        subprocess.run(command.split(), check=True, capture_output=True)
    listener = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c", LISTEN])
    return name, listener


def _wait_connectable(host: str, port: int) -> None:
    def connects() -> bool:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            return False

    wait_until(connects, timeout_s=10, what=f"{host}:{port} to listen")


def run_probe(platform, engine, listener, network: bool, routed: list[str]) -> dict:
    project = platform.new_project(f"probe-{network}")
    data = {"name": "probe", "stack": "python", "command": "python3 probe.py",
            "network": network, "env_vars": {"GREETING": "hi"}}  # fmt: skip
    code = project.upload_code(zip_files({"probe.py": PROBE}), data)
    api_port = int(platform.url.rsplit(":", 1)[1])
    redis_port = int(platform.settings.redis_url.rsplit(":", 1)[1].split("/")[0])
    payload = json.dumps({"ports": [redis_port, api_port, listener], "routed": list(routed)})
    task = project.wait(queue_as_run(engine, platform, project, code, payload), timeout_s=60)
    assert task["status"] == "complete", (task, project.log(task["id"]))
    return json.loads(task["result"])


@pytest.mark.parametrize("network", [False, True], ids=["default", "network"])
def test_probe_finds_every_wall_in_place(platform, engine, listener, routed_hosts, network):
    routed = [routed_hosts["public"], routed_hosts["cgnat"]]
    found = run_probe(platform, engine, listener, network, routed)
    assert found["uid"] != 0
    assert found["cap_eff"] == "0000000000000000"
    assert found["no_new_privs"] == "1"
    assert (found["write_root"], found["write_etc"], found["write_tmp"]) == (False, False, True)
    assert found["interfaces"] == (["eth0", "lo"] if network else ["lo"])
    # Only the public host, and only with a network: not this host, not CGNAT space.
    assert found["reachable"] == ([routed_hosts["public"]] if network else [])
    assert found["ipv6_addresses"] == []
    assert set(found["environ"]) <= EXPECTED_ENV
    secrets = (ADMIN_TOKEN, platform.settings.redis_url)
    assert not any(s in v for s in secrets for v in found["environ"].values())


PIDS_LIMIT = Settings().container_pids_limit


def test_fork_bomb_stops_at_the_pids_limit_and_the_runner_keeps_serving(platform, engine):
    project = platform.new_project("bomb")
    # The main shell forks the bomb first and then needs no new process (exec), so the bomb
    # taking every pid cannot end the container, as a forked `sleep` failing would.
    bomb = "bomb() { bomb | bomb & }; (bomb) & exec sleep 600"
    project.upload_code(zip_files({"run.sh": bomb}), {"name": "bomb", "command": "sh run.sh"})
    project.upload_code(zip_files({"run.sh": "echo fine"}), {"name": "ok", "command": "sh run.sh"})
    bomb_id = project.queue("bomb", timeout=300)  # ended by a cancel, whatever the load
    label = {"label": f"{LABEL_TASK}={bomb_id}", "status": "running"}
    [container] = wait_until(lambda: engine.api.containers(filters=label), what="the bomb")

    def pids() -> int:  # the engine's count of the container's processes (its pids cgroup)
        stats = engine.api.stats(container["Id"], stream=False, one_shot=True)
        return stats["pids_stats"].get("current", 0)  # none yet while it starts

    # It forks until the limit stops it, and never past it.
    peak = wait_until(lambda: (n := pids()) >= PIDS_LIMIT - 8 and n, what="the bomb to fork")
    assert peak <= PIDS_LIMIT and max(pids() for _ in range(5)) <= PIDS_LIMIT
    ok = project.wait(project.queue("ok"), timeout_s=60)
    assert ok["status"] == "complete" and project.log(ok["id"]) == "fine\n"
    assert project.task(bomb_id)["status"] == "running"  # still contained while others ran
    # And the runner can still stop it: the cancel kills the container, forks and all.
    project.cancel(bomb_id)
    assert project.wait(bomb_id, timeout_s=60)["status"] == "cancelled"
    everywhere = {"label": f"{LABEL_TASK}={bomb_id}"}
    wait_until(lambda: not engine.api.containers(all=True, filters=everywhere), what="its end")


def test_memory_hog_is_killed_for_running_out_of_memory(platform):
    project = platform.new_project("hog")
    hog = "x = bytearray(512 * 1024 * 1024)\nprint('survived')\n"
    data = {"name": "hog", "stack": "python", "command": "python3 hog.py", "memory": 64}
    project.upload_code(zip_files({"hog.py": hog}), data)
    task = project.wait(project.queue("hog"), timeout_s=60)
    assert task["status"] == "killed" and "out of memory" in task["msg"]
    assert "survived" not in project.log(task["id"])


def test_a_disk_hog_stops_at_its_disk_limit_and_the_host_disk_keeps_its_space(platform):
    project = platform.new_project("disk-hog")
    hog = "dd if=/dev/zero of=/mnt/task/big bs=1M count=2000 2>&1; exit 3"
    data = {"name": "hog", "stack": "sh", "command": "sh run.sh", "disk": 32}
    project.upload_code(zip_files({"run.sh": hog}), data)
    free_before = shutil.disk_usage(platform.settings.data_dir).free
    task = project.wait(project.queue("hog"), timeout_s=60)
    free_after = shutil.disk_usage(platform.settings.data_dir).free
    assert task["status"] == "error" and "disk limit (32 MB) was reached" in task["msg"]
    # Not the 2 GB the task tried to write; the margin is for other tests writing meanwhile.
    assert free_before - free_after < 256 * 1024**2
    assert "No space left on device" in project.log(task["id"])


def test_every_place_a_task_can_write_counts_against_one_disk_limit(platform):
    """/mnt/task, /tmp and /dev/shm share the code's `disk`: 12 MB in each of three is more
    than a limit of 32 MB, though each alone fits."""
    project = platform.new_project("disk-parts")
    write = "dd if=/dev/zero of={} bs=1M count=12 2>/dev/null && echo wrote {}"
    script = "\n".join(write.format(p, p) for p in ("/tmp/a", "/dev/shm/b", "/mnt/task/c"))
    data = {"name": "parts", "stack": "sh", "command": "sh run.sh", "disk": 32}
    project.upload_code(zip_files({"run.sh": script + "\n"}), data)
    task = project.wait(project.queue("parts"), timeout_s=60)
    assert task["status"] == "error" and "disk limit" in task["msg"]
    assert project.log(task["id"]) == "wrote /tmp/a\nwrote /dev/shm/b\n"


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
        # CPU time, not wall time: a loaded machine gives the container less of each second.
        # Usage is sampled a second after the last sample, and one engine call can take more
        # than a second on a loaded host (1.6 s seen): the task idles long enough after its
        # work for a sample to see all of it (a wait and two such calls, and some).
        "import time\nx = bytearray(80 * 1024 * 1024)\nwhile time.process_time() < 1.5:\n    pass\n"
        "time.sleep(6)\n"
    )
    data = {"name": "work", "stack": "python", "command": "python3 work.py"}
    project.upload_code(zip_files({"work.py": work}), data)
    task = project.wait(project.queue("work"), timeout_s=60)
    assert task["status"] == "complete"
    assert task["usage"]["peak_memory_bytes"] >= 80 * 1024 * 1024
    # The container's CPU includes the process's (1.5 s) and Python's start.
    assert 1.5 <= task["usage"]["cpu_seconds"] <= 10
