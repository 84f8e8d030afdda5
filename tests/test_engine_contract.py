"""One contract, two engines: every case runs against runner/fake_engine.py and real Docker
(runner/docker_driver.py), as huey runs one suite over every storage backend. The fake is
what tests/test_supervise.py and tests/test_warm_pool.py trust; here it cannot drift from
what Docker does.

A case names a container by its command; the fake is told what that command does (a
Script), the real engine runs it in the sh stack's image.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ironworks.stacks import image_for
from runner import taskdir
from runner.docker_driver import DockerDriver
from runner.engine import DriverError, Engine
from runner.fake_engine import KILLED, FakeEngine, Script
from runner.spec import (
    LABEL_ATTEMPT,
    LABEL_INSTANCE,
    LABEL_RUNNER,
    LABEL_TASK,
    WARM_ENTRY,
    ContainerSpec,
    Limits,
)

PRINTS_AND_FAILS = ["sh", "-c", "echo hello; echo world; exit 3"]
RUNS_UNTIL_KILLED = ["sh", "-c", "sleep 60"]
# What each command does, for the fake engine.
SCRIPTS = {
    tuple(PRINTS_AND_FAILS): Script(output=b"hello\nworld\n", exit_code=3),
    tuple(RUNS_UNTIL_KILLED): Script(runs_s=None),
    (WARM_ENTRY,): Script(output=b"warm\n", exit_code=4),  # what its hand-off below does
}
HAND_OFF = b"command='echo warm; exit 4'\nset --\n"
LIMITS = Limits(memory_mb=64, cpus=0.5, tmpfs_mb=8, pids=64, nofile=256, log_max_bytes=65536)


@pytest.fixture(params=["fake", "docker"])
def either(request, tmp_path) -> Iterator[tuple[Engine, str]]:
    """An engine and an installation id of this test's own (its containers' label)."""
    instance = uuid.uuid4().hex
    made: Engine = (
        FakeEngine(lambda spec: SCRIPTS[tuple(spec.command)])
        if request.param == "fake"
        else DockerDriver()
    )
    yield made, instance
    for container in made.containers_of(instance):
        container.remove()
    taskdir.remove_all(tmp_path / "tasks")
    if isinstance(made, DockerDriver):
        made.close()


def spec(
    tmp_path, instance: str, command: list[str], runner: str = "r1", task: str = ""
) -> ContainerSpec:
    labels = {LABEL_INSTANCE: instance, LABEL_RUNNER: runner}
    if task:
        labels |= {LABEL_TASK: task, LABEL_ATTEMPT: "1"}
    return ContainerSpec(
        image=image_for("sh"),
        command=command,
        environment={},
        labels=labels,
        code_dir=None,
        task_dir=taskdir.make(tmp_path / "tasks", uuid.uuid4().hex, LIMITS.tmpfs_mb),
        network=None,
        limits=LIMITS,
        stdin_open=command == [WARM_ENTRY],
    )


def texts(blocks: Iterator[list[bytes]]) -> list[bytes]:
    """The lines' texts, each line checked to be `<RFC 3339 UTC time> <text>`."""
    found = []
    for line in (line for block in blocks for line in block):
        stamp, _, text = line.partition(b" ")
        assert stamp.endswith(b"Z") and b"T" in stamp, line
        found.append(text.rstrip(b"\n"))
    return found


def test_a_container_exits_with_its_code_and_its_output_is_stamped_lines(either, tmp_path):
    engine, instance = either
    container = engine.start(spec(tmp_path, instance, PRINTS_AND_FAILS, task="t1"))
    exit_ = container.wait()
    assert (exit_.code, exit_.oom_killed) == (3, False)
    assert not container.is_running()
    assert texts(container.tail_output(None)) == [b"hello", b"world"]
    assert texts(container.tail_output(1)) == [b"world"]
    assert container.owner() == ("t1", 1)


def test_a_killed_container_ends_137_and_stops_running(either, tmp_path):
    engine, instance = either
    container = engine.start(spec(tmp_path, instance, RUNS_UNTIL_KILLED, task="t2"))
    assert container.is_running()
    assert container.usage() is not None  # while it runs
    container.kill()
    assert container.wait().code == KILLED
    assert not container.is_running()


def test_waiting_for_a_removed_container_is_a_driver_error(either, tmp_path):
    engine, instance = either
    container = engine.start(spec(tmp_path, instance, RUNS_UNTIL_KILLED, task="t3"))
    container.remove()
    with pytest.raises(DriverError):
        container.wait()


def test_containers_are_found_by_installation_and_runner_until_removed(either, tmp_path):
    engine, instance = either
    mine = engine.start(spec(tmp_path, instance, RUNS_UNTIL_KILLED, runner="r1"))
    other = engine.start(spec(tmp_path, instance, RUNS_UNTIL_KILLED, runner="r2"))
    assert {c.id for c in engine.containers_of(instance)} == {mine.id, other.id}
    assert [c.id for c in engine.containers_of(instance, "r1")] == [mine.id]
    assert engine.containers_of(uuid.uuid4().hex) == []
    found = engine.get(mine.id)
    assert found is not None and found.labels[LABEL_RUNNER] == "r1"
    mine.remove()
    assert engine.get(mine.id) is None
    assert [c.id for c in engine.containers_of(instance)] == [other.id]


def test_a_warm_container_waits_for_its_task_and_then_runs_it_as_that_task(either, tmp_path):
    engine, instance = either
    container = engine.start(spec(tmp_path, instance, [WARM_ENTRY]))
    assert container.owner() is None  # nobody's while it waits
    container.hand_off(HAND_OFF, "a" * 24, 2)
    assert container.wait().code == 4
    assert texts(container.tail_output(None)) == [b"warm"]
    assert container.owner() == ("a" * 24, 2)
