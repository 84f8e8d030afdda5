"""An engine in memory (runner/engine.py), for tests of what the runner decides on top of one
(supervision, warm pools) in milliseconds; like dramatiq's StubBroker, it ships with the code
it stands in for. The Docker tests prove the real contract.

A container does what its Script says: print some output, run for a while (or until killed),
exit with a code, maybe as if out of memory. A warm one (spec.stdin_open) waits until its
task is handed off.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from runner.engine import DriverError, Exit
from runner.spec import LABEL_INSTANCE, LABEL_RUNNER, ContainerSpec, claimed_name, owner_of

KILLED = 137


def _blocks(lines: list[bytes]) -> Iterator[list[bytes]]:
    for at in range(0, len(lines), 2):
        yield lines[at : at + 2]


@dataclass(frozen=True)
class Script:
    output: bytes = b""
    runs_s: float | None = 0.0  # None: until killed
    exit_code: int = 0
    oom_killed: bool = False
    memory_bytes: int = 16 * 1024 * 1024
    live_output_lost: bool = False  # the live stream ends before the output does (20.10)


class FakeContainer:
    def __init__(self, spec: ContainerSpec, script: Script) -> None:
        self.spec, self.script = spec, script
        self.id = uuid.uuid4().hex
        self.name = ""
        self.handed: bytes | None = None
        self.killed = self.removed = False
        self._ended = threading.Event()
        self._started_at: float | None = None if spec.stdin_open else time.monotonic()

    @property
    def labels(self) -> dict[str, str]:
        return self.spec.labels

    def owner(self) -> tuple[str, int] | None:
        return owner_of(self.labels, self.name)

    def _ends_at(self) -> float | None:
        if self._started_at is None or self.script.runs_s is None:
            return None
        return self._started_at + self.script.runs_s

    def is_running(self) -> bool:
        ends_at = self._ends_at()
        return not self._ended.is_set() and (ends_at is None or time.monotonic() < ends_at)

    def hand_off(self, task_script: bytes, task_id: str, attempt: int) -> None:
        if self.removed or self._ended.is_set() or self._started_at is not None:
            raise DriverError("cannot hand the task to its container: it is not waiting")
        if self.owner() is None:
            self.name = claimed_name(task_id, attempt)
        self.handed, self._started_at = task_script, time.monotonic()

    def output(self) -> Iterator[list[bytes]]:
        lines = self._stamped()
        yield from _blocks(lines[: len(lines) // 2] if self.script.live_output_lost else lines)

    def tail_output(self, lines: int | None) -> Iterator[list[bytes]]:
        yield from _blocks(self._stamped()[-lines if lines else None :])

    def _stamped(self) -> list[bytes]:
        """Line n has the time 2026-01-01T00:00:00 + n ns."""
        lines = self.script.output.splitlines(keepends=True)
        return [b"2026-01-01T00:00:00.%09dZ " % n + line for n, line in enumerate(lines)]

    def usage(self) -> tuple[int, float] | None:
        return (self.script.memory_bytes, 0.01) if self.is_running() else None

    def kill(self) -> None:
        if self.is_running():
            self.killed = True
        self._ended.set()

    def wait(self) -> Exit:
        while self._started_at is None and not self._ended.is_set():
            self._ended.wait(0.01)  # a warm container waiting for its task
        ends_at = self._ends_at()
        timeout = None if ends_at is None else max(ends_at - time.monotonic(), 0)
        ended = self._ended.wait(timeout)
        if ended and self.removed:
            raise DriverError("the container is gone")
        if ended and self.killed:
            return Exit(KILLED, False)
        self._ended.set()
        return Exit(self.script.exit_code, self.script.oom_killed)

    def remove(self) -> None:
        self.removed = True  # first: a wait it ends finds it gone, as Docker's reload does
        self.kill()


class FakeEngine:
    """`script(spec)` says what each new container does (by default, exit 0 at once)."""

    def __init__(self, script: Callable[[ContainerSpec], Script] = lambda spec: Script()):
        self.script = script
        self.made: list[FakeContainer] = []
        self._lock = threading.Lock()

    def ping(self) -> None:
        pass

    def prepare_task_network(self) -> None:
        pass

    def task_network_for(self, instance_id: str, project_id: str, grants: list[str]) -> str:
        return f"fake-network-{project_id}"

    def remove_unused_networks(self, instance_id: str) -> int:
        return 0

    def start(self, spec: ContainerSpec) -> FakeContainer:
        container = FakeContainer(spec, self.script(spec))
        with self._lock:
            self.made.append(container)
        return container

    def get(self, container_id: str) -> FakeContainer | None:
        with self._lock:
            return next((c for c in self.made if c.id == container_id and not c.removed), None)

    def containers_of(self, instance_id: str, runner_id: str | None = None) -> list[FakeContainer]:
        with self._lock:
            return [
                c
                for c in self.made
                if not c.removed
                and c.labels.get(LABEL_INSTANCE) == instance_id
                and runner_id in (None, c.labels.get(LABEL_RUNNER))
            ]

    def present(self) -> list[FakeContainer]:
        """Containers made and not removed."""
        with self._lock:
            return [c for c in self.made if not c.removed]
