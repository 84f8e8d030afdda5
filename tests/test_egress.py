"""Egress grants on real Docker and real iptables, against a private host of our own: a
network namespace joined to this host by a veth pair, holding HTTP listeners on a private
subnet the host routes to. What is sampled is the kernel's: a real connection, made or not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import requests

from ironworks.client import ApiError, Client
from tests.harness import ADMIN_TOKEN, Platform, fresh_database, wait_until, zip_files

ANSWER = "private-listener-ok"
TRY_S = 2  # how long a task waits for a connection before calling it refused


@dataclass(frozen=True)
class PrivateHost:
    ip: str  # the namespace's address: listeners on GRANTED_PORT and OTHER_PORT
    host_ip: str  # this host's end of the veth pair: a listener on HOST_PORT


GRANTED_PORT, OTHER_PORT, HOST_PORT = 8080, 8081, 8082


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture(scope="module")
def private_host(tmp_path_factory):
    if not shutil.which("ip"):
        pytest.fail("iproute2's ip is missing (.ci/setup installs it)")
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
    net, name = f"10.77.{worker}", f"iwt{os.getpid() % 100000}"
    host_end, ns_end = f"{name}h", f"{name}n"
    www = tmp_path_factory.mktemp("www")
    (www / "hello.txt").write_text(ANSWER)
    sh("ip", "netns", "add", name)
    servers: list[subprocess.Popen] = []
    try:
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        sh("ip", "link", "set", ns_end, "netns", name)
        sh("ip", "addr", "add", f"{net}.1/24", "dev", host_end)
        sh("ip", "link", "set", host_end, "up")
        inside = ["ip", "netns", "exec", name]
        sh(*inside, "ip", "addr", "add", f"{net}.2/24", "dev", ns_end)
        sh(*inside, "ip", "link", "set", ns_end, "up")
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "route", "add", "default", "via", f"{net}.1")
        listeners = [(inside, f"{net}.2", GRANTED_PORT), (inside, f"{net}.2", OTHER_PORT),
                     ([], f"{net}.1", HOST_PORT)]  # fmt: skip
        for prefix, address, port in listeners:
            servers.append(subprocess.Popen(
                [*prefix, sys.executable, "-m", "http.server", str(port), "--bind", address,
                 "--directory", str(www)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        host = PrivateHost(f"{net}.2", f"{net}.1")
        for address, port in ((host.ip, GRANTED_PORT), (host.ip, OTHER_PORT),
                              (host.host_ip, HOST_PORT)):  # fmt: skip
            wait_until(lambda a=address, p=port: _answers(a, p), what=f"{address}:{port}")
        yield host
    finally:
        for server in servers:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _answers(address: str, port: int) -> bool:
    """The positive control: this host reaches the listener."""
    try:
        return requests.get(f"http://{address}:{port}/hello.txt", timeout=1).text == ANSWER
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def platform(redis_server, tmp_path_factory):
    running = Platform(fresh_database(redis_server), tmp_path_factory.mktemp("egress"))
    running.start_all(runner_concurrency=4)
    yield running
    running.stop()


def admin(platform: Platform) -> Client:
    return Client(platform.url, ADMIN_TOKEN)


def grant(platform: Platform, project: Client, allow: list[str]) -> dict:
    path = f"/2/projects/{project.project_id}/egress"
    return admin(platform)._request("PUT", path, json={"allow": allow}).json()


def fetcher(project: Client, name: str, targets: list[tuple[str, int]], **fields) -> None:
    """A networked sh code that tries each target once and prints what it got."""
    lines = [f"curl -fs -m {TRY_S} http://{a}:{p}/hello.txt && echo ' from {a}:{p}'"
             f" || echo 'refused {a}:{p}'" for a, p in targets]  # fmt: skip
    data = {"name": name, "stack": "sh", "command": "sh run.sh", "network": True, **fields}
    project.upload_code(zip_files({"run.sh": "\n".join(lines) + "\n"}), data)


def test_a_granted_task_reaches_its_grant_and_nothing_else_private(platform, private_host):
    host = private_host
    granted, other = platform.new_project("granted"), platform.new_project("other")
    # The granted range holds this host's own address: the host must stay out of reach.
    grant(platform, granted, [f"{host.ip}/32:{GRANTED_PORT}", f"{host.ip[:-2]}.0/24:{HOST_PORT}"])
    targets = [(host.ip, GRANTED_PORT), (host.ip, OTHER_PORT), (host.host_ip, HOST_PORT)]
    fetcher(granted, "fetch", targets)
    # Another project's task tries the granted destination again and again meanwhile.
    retries = [(host.ip, GRANTED_PORT)] * 5
    fetcher(other, "fetch", retries)
    theirs = other.queue("fetch")
    wait_until(lambda: other.task(theirs)["status"] == "running", what="the other task to run")
    mine = granted.wait(granted.queue("fetch"), timeout_s=120)
    theirs_ended = other.wait(theirs, timeout_s=120)

    assert granted.log(mine["id"]).splitlines() == [
        f"{ANSWER} from {host.ip}:{GRANTED_PORT}",
        f"refused {host.ip}:{OTHER_PORT}",  # the same host, a port not granted
        f"refused {host.host_ip}:{HOST_PORT}",  # the runner host, inside a granted range
    ]
    assert other.log(theirs).splitlines() == [f"refused {host.ip}:{GRANTED_PORT}"] * 5
    assert _overlapped(mine, theirs_ended), "the two tasks did not run at the same time"
    assert _answers(host.ip, GRANTED_PORT) and _answers(host.host_ip, HOST_PORT)  # control


def _overlapped(a: dict, b: dict) -> bool:
    return a["start_time"] < b["end_time"] and b["start_time"] < a["end_time"]


def test_a_change_of_grants_holds_for_the_next_task_without_a_restart(platform, private_host):
    host = private_host
    project = platform.new_project("changing")
    fetcher(project, "fetch", [(host.ip, GRANTED_PORT)])
    runner_pid = platform.processes["runner"].pid

    def fetched() -> str:
        return project.log(project.wait(project.queue("fetch"), timeout_s=120)["id"])

    assert fetched().startswith("refused")
    grant(platform, project, [f"{host.ip}/32:{GRANTED_PORT}"])
    assert fetched().startswith(ANSWER)
    grant(platform, project, [])
    assert fetched().startswith("refused")
    assert platform.processes["runner"].pid == runner_pid


STACK_CLIENTS = {
    "sh": "curl -fsS -m 5 {url}",
    "python": "python3 -c \"import urllib.request; print(urllib.request.urlopen('{url}',"
    ' timeout=5).read().decode())"',
    "node": "node -e \"require('http').get('{url}', r => r.pipe(process.stdout))\"",
    "ruby": "ruby -rnet/http -e \"print Net::HTTP.get(URI('{url}'))\"",
}


def test_every_stack_has_a_working_http_client(platform, private_host):
    project = platform.new_project("clients")
    grant(platform, project, [f"{private_host.ip}/32:{GRANTED_PORT}"])
    url = f"http://{private_host.ip}:{GRANTED_PORT}/hello.txt"
    ids = {}
    for stack, command in STACK_CLIENTS.items():
        project.upload_code(zip_files({"run.sh": command.format(url=url) + "\n"}),
                            {"name": stack, "stack": stack, "command": "sh run.sh",
                             "network": True})  # fmt: skip
        ids[stack] = project.queue(stack)
    for stack, task_id in ids.items():
        task = project.wait(task_id, timeout_s=120)
        assert (task["status"], project.log(task_id).strip()) == ("complete", ANSWER), stack


@pytest.mark.parametrize(
    ("grant_text", "why"),
    [
        ("127.0.0.1/32:80", "loopback"),
        ("169.254.169.254/32:80", "link-local"),
        ("224.0.0.1/32:5353", "multicast"),
        ("0.0.0.0/0:443", "can never be granted"),
        ("10.1.2.3:5432", "CIDR:PORT"),
        ("10.1.2.3/32:0", "port"),
        ("10.1.2.3/33:80", "IPv4"),
        ("fd00::1/128:80", "IPv4"),
    ],
)
def test_a_grant_that_can_never_be_made_is_a_400_that_says_why(platform, grant_text, why):
    project = platform.new_project("refused")
    with pytest.raises(ApiError) as refused:
        grant(platform, project, [grant_text])
    assert refused.value.status == 400 and why in refused.value.msg, refused.value.msg


def test_grants_are_the_operators_and_every_change_is_audited(platform):
    project = platform.new_project("owned")
    path = f"/2/projects/{project.project_id}/egress"
    with pytest.raises(ApiError) as refused:
        project._request("PUT", path, json={"allow": ["10.1.2.3/32:5432"]})
    assert refused.value.status == 401
    assert grant(platform, project, ["10.1.2.3/32:5432", "10.1.2.3/32:5432"]) == {
        "allow": ["10.1.2.3/32:5432"]
    }
    assert project._request("GET", path).json() == {"allow": ["10.1.2.3/32:5432"]}
    time.sleep(0.002)  # a later entry
    grant(platform, project, [])
    entries = project.audit()
    assert [(e["action"], e["allow"], e["actor"]) for e in entries] == [
        ("egress.set", [], "admin"),
        ("egress.set", ["10.1.2.3/32:5432"], "admin"),
    ]
