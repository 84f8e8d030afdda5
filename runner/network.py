"""The networks tasks that ask for one (`network: true`) join, walled off from the platform.

A bridge of its own with inter-container traffic off, and host firewall rules that drop what
its containers send to this host (so the runner's Redis, the API and any other local service
are out of reach) and to private address ranges (where the platform's other hosts live).
What is left is the way out to public addresses, over IPv4 only: the engine gives every
interface a link-local IPv6 address, and iptables' rules do not see IPv6, so a task's network
namespace has IPv6 turned off (the sysctls below, set on every networked container).

A project the operator granted private destinations (ironworks/egress.py) gets a bridge of
its own, walled off the same way, with one more chain in front of the private-range drops:
`IW-<hash>`, which accepts exactly the granted destinations (TCP, CIDR and port), never
towards the bridge itself. The bridge names the project, so a rule can never apply to another
project's task however addresses are reused; the host stays out of reach since what a task
sends to the host is dropped on INPUT, where no grant applies. The chain is brought up to
date from Redis each time a task of the project starts, so a change of grants takes effect
for the next task on every runner; a flush then refill can only briefly refuse, never open.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import threading

import docker
import docker.errors

from ironworks import egress
from ironworks.errors import IronworksError
from runner.spec import LABEL_INSTANCE, TASK_NETWORK

log = logging.getLogger(__name__)

BRIDGE = "iw-tasks0"
# Private, link-local (cloud metadata), carrier-grade NAT (where some clouds put their hosts)
# and multicast. IPv6 needs no rules: a task container has no IPv6 at all (NO_IPV6).
PRIVATE_RANGES = (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
    "224.0.0.0/4",
)  # fmt: skip


NO_IPV6 = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}


class IsolationError(IronworksError):
    """The task network cannot be walled off, so no task may use it."""


def ensure_task_network(client: docker.DockerClient) -> None:
    try:
        client.networks.get(TASK_NETWORK)
    except docker.errors.NotFound:
        _create_bridge(client, TASK_NETWORK, BRIDGE, {})
    for rule in firewall_rules():
        _ensure_rule(rule)


def _bridge_options(bridge: str) -> dict[str, str]:
    """A bridge of that name, whose containers cannot reach each other."""
    return {
        "com.docker.network.bridge.name": bridge,
        "com.docker.network.bridge.enable_icc": "false",
    }


def firewall_rules(bridge: str = BRIDGE) -> list[list[str]]:
    to_host = ["INPUT", "-i", bridge, "-j", "DROP"]
    to_private = [
        ["DOCKER-USER", "-i", bridge, "-d", cidr, "-j", "DROP"] for cidr in PRIVATE_RANGES
    ]
    return [to_host, *to_private]


def project_bridge(project_id: str) -> str:
    """The bridge of a project with grants: 15 characters at most, as Linux wants."""
    return "iwp" + hashlib.sha256(project_id.encode()).hexdigest()[:12]


def ensure_project_network(
    client: docker.DockerClient, instance_id: str, project_id: str, grants: list[str]
) -> str:
    """The network of a project with grants, its firewall in place and its grant chain up to
    date; returns the network's name."""
    bridge = project_bridge(project_id)
    name = f"{TASK_NETWORK}-{bridge}"
    with _locks.setdefault(bridge, threading.Lock()):
        try:
            client.networks.get(name)
        except docker.errors.NotFound:
            _create_bridge(client, name, bridge, {LABEL_INSTANCE: instance_id})
        chain = _chain_of(bridge)
        _sync_chain(chain, bridge, [egress.parse(g) for g in grants])
        for rule in firewall_rules(bridge):  # the drops first: a missing jump only refuses
            _ensure_rule(rule)
        _ensure_rule(["DOCKER-USER", "-i", bridge, "-j", chain])  # -I: above the drops
    return name


_locks: dict[str, threading.Lock] = {}


def remove_unused_project_networks(client: docker.DockerClient, instance_id: str) -> int:
    """Remove this installation's project networks that no container uses, with their
    firewall rules: a stopping runner leaves no network behind (one still in use by another
    runner on the host stays; a task's runner makes it again if it is gone)."""
    removed = 0
    for network in client.networks.list(filters={"label": f"{LABEL_INSTANCE}={instance_id}"}):
        network.reload()
        if network.attrs.get("Containers"):
            continue
        bridge = network.attrs["Options"].get("com.docker.network.bridge.name", "")
        try:
            network.remove()
        except docker.errors.APIError:
            continue  # a container joined meanwhile, or another runner removed it first
        chain = _chain_of(bridge)
        for rule in [["DOCKER-USER", "-i", bridge, "-j", chain], *firewall_rules(bridge)]:
            # Runners that made the network together may each have inserted the rule.
            while _iptables("-D", *rule, check=False).returncode == 0:
                pass
        _iptables("-F", chain, check=False)
        _iptables("-X", chain, check=False)
        removed += 1
    return removed


def _chain_of(bridge: str) -> str:
    return "IW-" + bridge[3:]


def _create_bridge(
    client: docker.DockerClient, name: str, bridge: str, labels: dict[str, str]
) -> None:
    """Runners of a host that start together (or start a project's first tasks together)
    race to make the same network: the engine refuses the later ones, for the name (409) or,
    Docker 20.10, for the bridge's name (403). Whichever it is, the network is there now."""
    try:
        client.networks.create(
            name, driver="bridge", options=_bridge_options(bridge), labels=labels,
            check_duplicate=True,
        )  # fmt: skip
    except docker.errors.APIError as e:
        try:
            client.networks.get(name)
        except docker.errors.NotFound:
            raise IsolationError(f"cannot create the task network {name}: {e}") from e


def _sync_chain(chain: str, bridge: str, grants: list[egress.Grant]) -> None:
    """The chain accepts exactly `grants` (rewritten only when it differs)."""
    wanted = [
        ["-A", chain, "-d", str(g.network), "!", "-o", bridge, "-p", "tcp", "-m", "tcp",
         "--dport", str(g.port), "-j", "ACCEPT"]
        for g in grants
    ]  # fmt: skip
    listed = _iptables("-S", chain, check=False)
    if listed.returncode != 0:
        made = _iptables("-N", chain, check=False)
        if made.returncode != 0 and _iptables("-S", chain, check=False).returncode != 0:
            raise IsolationError(f"cannot make the chain {chain}: {made.stderr.strip()}")
        # else another runner of this host made it meanwhile
    elif _normal(listed.stdout) == [_normal_rule(r) for r in wanted]:
        return
    _iptables("-F", chain)
    for rule in wanted:
        _iptables(*rule)


def _normal(listing: str) -> list[str]:
    return [_normal_rule(line.split()) for line in listing.splitlines() if line.startswith("-A")]


def _normal_rule(parts: list[str]) -> str:
    return " ".join(p.replace("/32", "") for p in parts)


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """One iptables call; with `check`, a refusal means tasks cannot be walled off."""
    try:
        return subprocess.run(["iptables", *args], capture_output=True, text=True, check=check)
    except (OSError, subprocess.CalledProcessError) as e:
        raise IsolationError(
            f"cannot wall off the task network ({' '.join(args)}): {e}; "
            "the runner needs root and iptables to run tasks that ask for a network"
        ) from e


def _ensure_rule(rule: list[str]) -> None:
    if _iptables("-C", *rule, check=False).returncode != 0:
        _iptables("-I", *rule)
