"""What a task's container looks like: the container contract, as plain data (no Docker calls)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from ironworks.model import Code, Task
from ironworks.settings import Settings
from ironworks.stacks import image_for
from runner import taskdir
from runner.task_api import CONTAINER_SOCKET

CODE_DIR = "/mnt/code"
TASK_DIR = taskdir.PARTS["task"]
PAYLOAD_FILE = f"{TASK_DIR}/payload.json"
CONFIG_FILE = f"{TASK_DIR}/config.json"
RESULT_FILE = f"{TASK_DIR}/{taskdir.RESULT_NAME}"
PROGRESS_FILE = f"{TASK_DIR}/{taskdir.PROGRESS_NAME}"
WORKER_USER = "10001:10001"
# The bridge network a code that sets `network: true` joins (see runner/network.py).
TASK_NETWORK = "ironworks-tasks"

LABEL_TASK = "io.ironworks.task_id"
LABEL_PROJECT = "io.ironworks.project_id"
LABEL_ATTEMPT = "io.ironworks.attempt"
LABEL_RUNNER = "io.ironworks.runner"
LABEL_INSTANCE = "io.ironworks.instance"
# A prestarted container: the code revision it waits for a task of, and until when it may.
LABEL_WARM = "io.ironworks.warm"
LABEL_FRESH_UNTIL = "io.ironworks.fresh_until"
# In every stack image (images/warm-entry.sh): waits on stdin for its task, then becomes it.
WARM_ENTRY = "/usr/local/bin/ironworks-warm"


@dataclass(frozen=True)
class Placement:
    """Where a container runs: which installation and which runner own it."""

    instance_id: str
    runner_id: str


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    cpus: float
    tmpfs_mb: int
    pids: int
    nofile: int
    log_max_bytes: int


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    command: list[str]
    environment: dict[str, str]
    labels: dict[str, str]
    code_dir: Path | None  # None for a registered image: it brings its own code
    task_dir: Path
    network: str | None  # None: no network at all
    limits: Limits
    stdin_open: bool = False  # a warm container reads its task from stdin


def limits_for(code: Code, settings: Settings) -> Limits:
    """The code's own limits where it set them, the platform's defaults elsewhere, never more
    than the platform's maxima (the API refuses larger values; this keeps old codes in line
    after an admin lowers a maximum)."""
    return Limits(
        memory_mb=min(
            code.memory_mb or settings.container_memory_mb, settings.max_container_memory_mb
        ),
        cpus=min(code.cpus or settings.container_cpus, settings.max_container_cpus),
        tmpfs_mb=min(code.disk_mb or settings.container_tmpfs_mb, settings.max_container_tmpfs_mb),
        pids=settings.container_pids_limit,
        nofile=settings.container_nofile,
        log_max_bytes=min(code.log_max_bytes or settings.log_max_bytes, settings.max_log_max_bytes),
    )


def build_spec(
    task: Task, code: Code, code_dir: Path | None, task_dir: Path, placement: Placement,
    settings: Settings, secrets: dict[str, str] | None = None, network: str | None = None,
) -> ContainerSpec:  # fmt: skip
    """A cold start: the container runs the task's command from the start, with the code's
    secrets (opened for this task) in its environment, on `network` if it asks for one (its
    project's, when the project has egress grants)."""
    labels = _task_labels(task) | {
        LABEL_RUNNER: placement.runner_id,
        LABEL_INSTANCE: placement.instance_id,
    }
    return ContainerSpec(
        image=code.image or image_for(code.stack),
        command=["/bin/sh", "-c", _command_line(code), "sh", *_iron_args(task.id)],
        environment=_environment(code) | (secrets or {}) | _task_environment(task),
        labels=labels,
        code_dir=code_dir,
        task_dir=task_dir,
        network=(network or TASK_NETWORK) if code.network else None,
        limits=limits_for(code, settings),
    )


def can_warm(code: Code) -> bool:
    """Only stack images carry the warm entrypoint; a registered image runs cold. A code with
    secrets runs cold too: a container made ahead of its task would hold them while it waits,
    and a secret deleted meanwhile would still reach the task."""
    return code.warm and code.image is None and not code.secrets


def warm_spec(
    code: Code, code_dir: Path | None, task_dir: Path, placement: Placement, settings: Settings,
    fresh_until: float, task: Task | None = None,
) -> ContainerSpec:  # fmt: skip
    """A container of the code's revision that waits for its task on stdin: everything a cold
    start of it has but the task's id, which hand_off() brings with the command line. Made
    ahead of time it has no task (nor project) labels, so that a waiting container counts as
    nobody's; made for a task at hand (a pool miss) it has them all."""
    labels = {
        LABEL_WARM: warm_key(code),
        LABEL_FRESH_UNTIL: str(int(fresh_until)),
        LABEL_RUNNER: placement.runner_id,
        LABEL_INSTANCE: placement.instance_id,
    }
    if task is not None:
        labels |= _task_labels(task)
    return ContainerSpec(
        image=image_for(code.stack),
        command=[WARM_ENTRY],
        environment=_environment(code),
        labels=labels,
        code_dir=code_dir,
        task_dir=task_dir,
        network=TASK_NETWORK if code.network else None,
        limits=limits_for(code, settings),
        stdin_open=True,
    )


# A warm container that took a task is renamed so (Docker labels cannot change).
CLAIMED_NAME = re.compile(r"iw-(?P<task>[0-9a-f]+)-(?P<attempt>[0-9]+)")


def claimed_name(task_id: str, attempt: int) -> str:
    return f"iw-{task_id}-{attempt}"


def owner_of(labels: dict[str, str], name: str) -> tuple[str, int] | None:
    """The task attempt a container runs: from its labels (a cold start) or from the name it
    was given when it took its task (a warm start); None for a warm one still waiting."""
    if LABEL_TASK in labels:
        return labels[LABEL_TASK], int(labels[LABEL_ATTEMPT])
    match = CLAIMED_NAME.fullmatch(name)
    return (match["task"], int(match["attempt"])) if match else None


def warm_key(code: Code) -> str:
    return f"{code.id}.{code.rev}"


def hand_off(task: Task, code: Code) -> bytes:
    """What a warm container reads on stdin to become the task (images/warm-entry.sh)."""
    args = " ".join(shlex.quote(a) for a in _iron_args(task.id))
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in _task_environment(task).items())
    return (f"{exports}command={shlex.quote(_command_line(code))}\nset -- {args}\n").encode()


def _task_labels(task: Task) -> dict[str, str]:
    return {
        LABEL_TASK: task.id,
        LABEL_PROJECT: task.project_id,
        LABEL_ATTEMPT: str(task.attempt),
    }


def _command_line(code: Code) -> str:
    """The user's command is a shell line (as on IronWorker); IronWorker's arguments follow."""
    return f'{code.command} "$@"'


def _iron_args(task_id: str) -> list[str]:
    return ["-payload", PAYLOAD_FILE, "-config", CONFIG_FILE, "-id", task_id, "-d", TASK_DIR]


def _task_environment(task: Task) -> dict[str, str]:
    """What a task's container is told of the task itself (docs/worker-contract.md)."""
    return {"TASK_ID": task.id, **({"REPLAY_OF": task.replay_of} if task.replay_of else {})}


def _environment(code: Code) -> dict[str, str]:
    return {
        **code.env_vars,
        "PAYLOAD_FILE": PAYLOAD_FILE,
        "CONFIG_FILE": CONFIG_FILE,
        "TASK_DIR": TASK_DIR,
        "RESULT_FILE": RESULT_FILE,
        "PROGRESS_FILE": PROGRESS_FILE,
        # The platform's API for this task (runner/task_api.py), on its project's paths.
        "IRONWORKS_API_SOCKET": CONTAINER_SOCKET,
        "IRONWORKS_PROJECT_ID": code.project_id,
        "HOME": "/tmp",
    }
