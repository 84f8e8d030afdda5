"""Outbound webhooks cannot be aimed at the platform's own network (SSRF), nor stall others.

The deliveries here are made by the scheduler's Deliverer against real HTTP servers on this
host, through a real Redis; the refusals are checked on what the servers received.
"""

from __future__ import annotations

import http.server
import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ironworks.model import new_id
from ironworks.outbound import is_forbidden
from ironworks.webhooks import Delivery, Webhook
from scheduler.webhooks import Deliverer
from tests.harness import wait_until
from tests.helpers import auth, create_project, queue, upload

REFUSED_AT_CREATION = [
    "http://127.0.0.1:6379/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/",
    "http://10.0.0.1/",
    "http://localhost:8080/",
    "http://api.localhost/",
    "http://100.64.0.1/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "ftp://example.com/",
]


@pytest.mark.parametrize("url", REFUSED_AT_CREATION)
def test_a_hook_to_a_private_or_local_target_is_refused_with_a_message(api, url):
    project = create_project(api)
    path, headers = f"/2/projects/{project['id']}/webhooks", auth(project["token"])
    response = api.post(path, json={"url": url}, headers=headers)
    assert response.status_code == 400 and "url" in response.json["msg"]
    assert api.get(path, headers=headers).json["webhooks"] == []


def test_a_hook_to_a_public_name_or_address_is_accepted(api):
    project = create_project(api)
    path, headers = f"/2/projects/{project['id']}/webhooks", auth(project["token"])
    for url in ("https://hooks.example.com/in", "http://8.8.8.8/", "http://[2606:4700::1111]/"):
        assert api.post(path, json={"url": url}, headers=headers).status_code == 201, url


@pytest.mark.parametrize(
    "address, forbidden",
    [("8.8.8.8", False), ("2606:4700::1111", False), ("100.127.255.254", True),
     ("192.168.1.1", True), ("172.16.0.1", True), ("fe80::1", True), ("ff02::1", True),
     ("2002:7f00:1::", True), ("64:ff9b::a00:1", True), ("2002:808:808::", False)],
)  # fmt: skip
def test_which_addresses_are_forbidden(address, forbidden):
    assert is_forbidden(ipaddress.ip_address(address)) is forbidden


class Receiver(http.server.BaseHTTPRequestHandler):
    """Counts what reached it; answers `status` (with a Location for a redirect) after
    waiting for `release`, if it was given one."""

    status = 200
    location = ""
    release: threading.Event | None = None

    def do_POST(self) -> None:
        self.server.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        if self.release is not None:
            self.release.wait(30)
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@contextmanager
def receiver(**behaviour) -> Iterator[http.server.ThreadingHTTPServer]:
    handler = type("Handler", (Receiver,), behaviour)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def due_delivery(api, store, url: str) -> Delivery:
    """A hook of a fresh project with `url`, written straight to the store (as if it had passed
    the creation check, or its name had since been pointed elsewhere), and one delivery due."""
    project = create_project(api, f"p{new_id()[:6]}")
    upload(api, project, {"name": "w", "command": "true"})
    task_id = queue(api, project, {"code_name": "w"}).json["tasks"][0]["id"]
    hook = Webhook(new_id(), project["id"], url, "secret", time.time())
    store.webhooks.create(hook)
    delivery = Delivery(new_id(), hook.id, project["id"], task_id, "complete", time.time())
    store.webhooks.add_delivery_once(delivery, due=time.time())
    return delivery


def attempts_of(store, delivery: Delivery) -> tuple[str, list[dict]]:
    [(current, attempts)] = store.webhooks.deliveries(delivery.hook_id)
    return current.state, attempts


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_delivery_to_a_name_or_address_on_this_host_never_connects(api, store, host):
    with receiver() as server:
        delivery = due_delivery(api, store, f"http://{host}:{server.server_port}/hook")
        Deliverer(store, allow_private=False).step(time.time())
        wait_until(lambda: attempts_of(store, delivery)[1], what="the attempt to be recorded")
        assert server.received == []
    state, [attempt] = attempts_of(store, delivery)
    assert state == "pending" and "no public address" in attempt["error"]
    assert "status_code" not in attempt  # nothing about the target comes back


def test_an_operator_may_allow_private_targets(api, store):
    with receiver() as server:
        delivery = due_delivery(api, store, f"http://localhost:{server.server_port}/hook")
        Deliverer(store, allow_private=True).step(time.time())
        wait_until(lambda: server.received, what="the delivery")
        wait_until(lambda: attempts_of(store, delivery)[0] == "delivered", what="its record")


def test_redirects_are_not_followed(api, store):
    with receiver() as target:
        to_target = f"http://127.0.0.1:{target.server_port}/"
        with receiver(status=302, location=to_target) as redirector:
            url = f"http://127.0.0.1:{redirector.server_port}/hook"
            delivery = due_delivery(api, store, url)
            Deliverer(store, allow_private=True).step(time.time())
            wait_until(lambda: attempts_of(store, delivery)[1], what="the attempt")
            assert len(redirector.received) == 1 and target.received == []
    state, [attempt] = attempts_of(store, delivery)
    assert state == "pending" and "redirects are not followed" in attempt["error"]


def test_a_slow_receiver_does_not_delay_another_projects_delivery(api, store):
    stuck = threading.Event()
    with receiver(release=stuck) as slow, receiver() as fast:
        slow_delivery = due_delivery(api, store, f"http://127.0.0.1:{slow.server_port}/")
        fast_delivery = due_delivery(api, store, f"http://127.0.0.1:{fast.server_port}/")
        Deliverer(store, allow_private=True).step(time.time())
        # The slow one (claimed first) holds its thread; the other goes out meanwhile.
        wait_until(lambda: fast.received, timeout_s=5, what="the other project's delivery")
        wait_until(lambda: attempts_of(store, fast_delivery)[1], what="its record")
        assert len(slow.received) == 1
        assert attempts_of(store, slow_delivery)[1] == []  # still in flight
        assert attempts_of(store, fast_delivery)[0] == "delivered"
        stuck.set()


def test_a_delivery_whose_hook_is_deleted_mid_attempt_stays_deleted(api, store):
    """The hook is deleted while its delivery is being attempted: recording the attempt must
    not bring back half a record, due again, that the deliverer cannot read (it stopped the
    scheduler); one left by an older version is dropped."""
    delivery = due_delivery(api, store, "https://hooks.example.com/hook")
    now = time.time()
    assert delivery.id in [d.id for d in store.webhooks.claim_due(now, limit=1000)]
    store.webhooks.delete(Webhook(delivery.hook_id, delivery.project_id, "", "", now))
    store.webhooks.record_attempt(delivery, {"error": "timed out"}, "pending", retry_at=now)
    assert not store.redis.exists(store.keys.delivery(delivery.id))
    assert store.redis.zscore(store.keys.due_deliveries(), delivery.id) is None

    store.redis.hset(store.keys.delivery(delivery.id), mapping={"attempts": 1, "state": "x"})
    store.redis.zadd(store.keys.due_deliveries(), {delivery.id: now})
    assert delivery.id not in [d.id for d in store.webhooks.claim_due(now + 1, limit=1000)]
    assert store.redis.zscore(store.keys.due_deliveries(), delivery.id) is None
