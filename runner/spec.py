"""What a task's container looks like: the container contract, as plain data (no Docker calls)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ironworks.model import Code, Task
from ironworks.settings import Settings
from ironworks.stacks import image_for

CODE_DIR = "/mnt/code"
TASK_DIR = "/mnt/task"
PAYLOAD_FILE = f"{TASK_DIR}/payload.json"
CONFIG_FILE = f"{TASK_DIR}/config.json"
RESULT_FILE = f"{TASK_DIR}/result.json"
WORKER_USER = "10001:10001"

LABEL_TASK = "io.ironworks.task_id"
LABEL_PROJECT = "io.ironworks.project_id"
LABEL_ATTEMPT = "io.ironworks.attempt"
LABEL_RUNNER = "io.ironworks.runner"
LABEL_INSTANCE = "io.ironworks.instance"


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    command: list[str]
    environment: dict[str, str]
    labels: dict[str, str]
    code_dir: Path
    task_dir: Path
    memory_mb: int
    pids_limit: int
    tmpfs_mb: int


@dataclass(frozen=True)
class Placement:
    """Where a container runs: which installation and which runner own it."""

    instance_id: str
    runner_id: str


def build_spec(
    task: Task, code: Code, code_dir: Path, task_dir: Path, placement: Placement, settings: Settings
) -> ContainerSpec:
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
        image=image_for(code.stack),
        command=command,
        environment=environment,
        labels=labels,
        code_dir=code_dir,
        task_dir=task_dir,
        memory_mb=settings.container_memory_mb,
        pids_limit=settings.container_pids_limit,
        tmpfs_mb=settings.container_tmpfs_mb,
    )
