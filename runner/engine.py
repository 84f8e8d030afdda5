"""What the runner needs of a container engine: the interface runner/docker_driver.py
implements for Docker and runner/fake_engine.py in memory (for tests of the policies that
sit on top, in milliseconds)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ironworks.errors import IronworksError
from runner.spec import ContainerSpec


class DriverError(IronworksError):
    """The engine refused or failed an operation (a platform fault, not the task's)."""


@dataclass(frozen=True)
class Exit:
    code: int
    oom_killed: bool


class Container(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def labels(self) -> dict[str, str]: ...

    def owner(self) -> tuple[str, int] | None:
        """The task attempt it runs; None for a warm one still waiting for its task."""

    def is_running(self) -> bool:
        """Whether it runs now (asked of the engine at the call)."""

    def hand_off(self, task_script: bytes, task_id: str, attempt: int) -> None:
        """Give a waiting warm container its task (on its stdin), which starts it."""

    def output(self) -> Iterator[list[bytes]]:
        """stdout and stderr as they come, in blocks of lines, each `<time> <text>` (the time
        fixed-width RFC 3339 in UTC, so times compare as bytes). Best effort: it may end
        before the output does."""

    def tail_output(self, lines: int | None) -> Iterator[list[bytes]]:
        """The last `lines` lines the engine kept (all of them for None), as output() gives
        them."""

    def usage(self) -> tuple[int, float] | None:
        """(peak memory bytes, CPU seconds) so far, or None once it is gone."""

    def kill(self) -> None: ...

    def wait(self) -> Exit:
        """Its exit, once it has exited; DriverError if the engine no longer has it (removed,
        before or while it was waited for)."""

    def remove(self) -> None: ...


class Engine(Protocol):
    def ping(self) -> None: ...

    def prepare_task_network(self) -> None: ...

    def task_network_for(self, instance_id: str, project_id: str, grants: list[str]) -> str:
        """The network of a project with egress grants, its grants in force (runner/network.py)."""
        ...

    def remove_unused_networks(self, instance_id: str) -> int:
        """Remove the installation's project networks no container uses (on a runner's stop)."""
        ...

    def start(self, spec: ContainerSpec) -> Container: ...

    def get(self, container_id: str) -> Container | None: ...

    def containers_of(self, instance_id: str, runner_id: str | None = None) -> Sequence[Container]:
        """Task containers of one installation (and, if given, one runner), running or not."""
