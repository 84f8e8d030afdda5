"""The task networks on the real engine: runners of one host that start together make each
network once between them, none of them fails for it, and none of it is left once unused."""

from __future__ import annotations

import multiprocessing
import subprocess
import uuid

import docker

from runner.network import ensure_project_network, project_bridge, remove_unused_project_networks
from runner.spec import LABEL_INSTANCE, TASK_NETWORK

RUNNERS = 4
ROUNDS = 3  # the race is lost by one runner in most rounds; three make a miss unlikely


def _start(instance_id: str, project_id: str, ready, answers) -> None:
    """A runner's first task of the project, as its own process with its own engine client."""
    client = docker.from_env()
    try:
        ready.wait()
        answers.put(ensure_project_network(client, instance_id, project_id, []))
    except Exception as e:  # reported to the test, which says what failed
        answers.put(f"failed: {e}")
    finally:
        client.close()


def test_runners_racing_to_make_a_network_all_get_the_one_made(engine):
    instance_id = f"test-{uuid.uuid4().hex[:12]}"
    context = multiprocessing.get_context("fork")
    bridges = []
    try:
        for _ in range(ROUNDS):
            project_id = uuid.uuid4().hex[:24]
            bridges.append(project_bridge(project_id))
            ready, answers = context.Barrier(RUNNERS), context.Queue()
            runners = [
                context.Process(target=_start, args=(instance_id, project_id, ready, answers))
                for _ in range(RUNNERS)
            ]
            for process in runners:
                process.start()
            got = sorted(answers.get(timeout=120) for _ in runners)
            for process in runners:
                process.join()
            name = f"{TASK_NETWORK}-{project_bridge(project_id)}"
            assert got == [name] * RUNNERS
            assert len(engine.networks.list(names=[name])) == 1
    finally:
        remove_unused_project_networks(engine, instance_id)
    assert not engine.networks.list(filters={"label": f"{LABEL_INSTANCE}={instance_id}"})
    # ...and so are their firewall rules, however many of the runners inserted each.
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True).stdout
    assert not [line for line in rules.splitlines() if any(b in line for b in bridges)]
