"""The harness's ports (tests/harness.py): a process a test starts binds its port a moment
after it was chosen, so no two callers may be given the same one in that moment, in one
pytest worker or across them."""

from __future__ import annotations

from pathlib import Path

from ironworks.cli import dev
from tests.harness import free_port


def test_ports_are_not_handed_out_twice_nor_from_where_the_os_hands_out_its_own():
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert max(ports) < ephemeral_low, "bind(0) draws from there, for any process"


def test_ironworks_dev_never_gives_two_of_its_processes_one_port():
    ports = [dev.free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
