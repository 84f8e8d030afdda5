"""The one network tasks that ask for one (`network: true`) join, walled off from the platform.

A bridge of its own with inter-container traffic off, and host firewall rules that drop what
its containers send to this host (so the runner's Redis, the API and any other local service
are out of reach) and to private address ranges (where the platform's other hosts live).
What is left is the way out to public addresses, over IPv4 only: the engine gives every
interface a link-local IPv6 address, and iptables' rules do not see IPv6, so a task's network
namespace has IPv6 turned off (the sysctls below, set on every networked container).
"""

from __future__ import annotations

import logging
import subprocess

import docker
import docker.errors

from ironworks.errors import IronworksError
from runner.spec import TASK_NETWORK

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
        client.networks.create(
            TASK_NETWORK,
            driver="bridge",
            options={
                "com.docker.network.bridge.name": BRIDGE,
                "com.docker.network.bridge.enable_icc": "false",
            },
        )
    for rule in firewall_rules():
        _ensure_rule(rule)


def firewall_rules() -> list[list[str]]:
    to_host = ["INPUT", "-i", BRIDGE, "-j", "DROP"]
    to_private = [
        ["DOCKER-USER", "-i", BRIDGE, "-d", cidr, "-j", "DROP"] for cidr in PRIVATE_RANGES
    ]
    return [to_host, *to_private]


def _ensure_rule(rule: list[str]) -> None:
    try:
        present = subprocess.run(["iptables", "-C", *rule], capture_output=True).returncode == 0
        if not present:
            subprocess.run(["iptables", "-I", *rule], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise IsolationError(
            f"cannot wall off the task network ({' '.join(rule)}): {e}; "
            "the runner needs root and iptables to run tasks that ask for a network"
        ) from e
