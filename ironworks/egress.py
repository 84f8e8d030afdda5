"""Egress grants: the private destinations (IPv4 network and TCP port) an operator lets one
project's networked tasks reach, beyond the public internet every networked task reaches.

A grant is written `CIDR:PORT` ("10.1.2.3/32:5432", "192.168.7.0/24:443"). Loopback,
link-local (where clouds serve instance metadata), multicast and the reserved ranges can never
be granted; the runner host itself stays out of reach whatever is granted (the runner drops
what a task sends to the host before any grant is looked at: runner/network.py).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ironworks.errors import BadRequest

MAX_GRANTS = 100
NEVER = {
    "loopback": ipaddress.IPv4Network("127.0.0.0/8"),
    "link-local (cloud metadata)": ipaddress.IPv4Network("169.254.0.0/16"),
    "multicast": ipaddress.IPv4Network("224.0.0.0/4"),
    "reserved": ipaddress.IPv4Network("240.0.0.0/4"),
    "'this network'": ipaddress.IPv4Network("0.0.0.0/8"),
}


@dataclass(frozen=True, order=True)
class Grant:
    network: ipaddress.IPv4Network
    port: int

    def __str__(self) -> str:
        return f"{self.network}:{self.port}"


def parse(text: str) -> Grant:
    """One grant, or a 400 that says what is wrong with it."""
    if not isinstance(text, str) or len(text) > 64:
        raise BadRequest(f"a grant is 'CIDR:PORT' (e.g. '10.1.2.3/32:5432'), not {text!r:.80}")
    cidr, sep, port_text = text.rpartition(":")
    if not sep or "/" not in cidr:
        raise BadRequest(f"grant {text!r}: write it 'CIDR:PORT', e.g. '10.1.2.3/32:5432'")
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError as e:
        raise BadRequest(f"grant {text!r}: {e} (IPv4 networks only: tasks have no IPv6)") from e
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise BadRequest(f"grant {text!r}: the port must be a number from 1 to 65535")
    for why, never in NEVER.items():
        if network.overlaps(never):
            raise BadRequest(f"grant {text!r}: {why} addresses ({never}) can never be granted")
    return Grant(network, int(port_text))


def parse_all(texts: list[str]) -> list[Grant]:
    if len(texts) > MAX_GRANTS:
        raise BadRequest(f"at most {MAX_GRANTS} grants per project")
    return sorted({parse(t) for t in texts})
