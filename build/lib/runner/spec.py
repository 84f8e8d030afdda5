"""What a task's container looks like: the container contract, as plain data (no Docker calls)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ironworks.model import Code, Task
from ironworks.settings import Settings
from ironworks.stacks import image_for
from runner import taskdir

CODE_DIR = "/mnt/code"
TASK_DIR = "/mnt/task"
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
        log_max_bytes=code.log_max_bytes or settings.log_max_bytes,
    )


def build_spec(
    task: Task, code: Code, code_dir: Path | None, task_dir: Path, placement: Placement,
    settings: Settings,
) -> ContainerSpec:  # fmt: skip
    # The user's command is a shell line (as on IronWorker); IronWorker's arguments follow it.
    iron_args = ["-payload", PAYLOAD_FILE, "-config", CONFIG_FILE, "-id", task.id, "-d", TASK_DIR]
    command = ["/bin/sh", "-c", f'{code.command} "$@"', "sh", *iron_args]
    environment = {
        **code.env_vars,
        "TASK_ID": task.id,
        "PAYLOAD_FILE": PAYLOAD_FILE,
        "CONFIG_FILE": CONFIG_FILE,
        "TASK_DIR": TASK_DIR,
        "RESULT_FILE": RESULT_FILE,
        "PROGRESS_FILE": PROGRESS_FILE,
        "HOME": "/tmp",
    }
    labels = {
        LABEL_TASK: task.id,
        LABEL_PROJECT: task.project_id,
        LABEL_ATTEMPT: str(task.attempt),
        LABEL_RUNNER: placement.runner_id,
        LABEL_INSTANCE: placement.instance_id,
    }
    return ContainerSpec(
        image=code.image or image_for(code.stack),
        command=command,
        environment=environment,
        labels=labels,
        code_dir=code_dir,
        task_dir=task_dir,
        network=TASK_NETWORK if code.network else None,
        limits=limits_for(code, settings),
    )
