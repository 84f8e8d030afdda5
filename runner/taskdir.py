"""The task's writable space: /mnt/task (inputs in, result out), /tmp and /dev/shm.

All three are directories of one tmpfs the runner mounts per task, sized to the code's `disk`
limit, so that every byte a task can write counts against that one limit and none reaches the
host's disk (a plain bind mount of a host directory would take all the host has). A tmpfs
lives in memory, so its pages also count against the task's memory limit, as Docker's own
tmpfs does. The runner needs CAP_SYS_ADMIN to mount, and its mounts must be the ones the
engine sees: a runner in a container shares the data directory with the host `rshared`.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from ironworks.errors import IronworksError
from ironworks.model import Task

RESULT_NAME = "result.json"
PROGRESS_NAME = "progress.json"
MAX_RESULT_BYTES = 1024 * 1024
MAX_PROGRESS_BYTES = 4096


# The parts of the task's tmpfs, and where each appears in the container. `run` holds the
# task's API socket (runner/task_api.py), and nothing the task can write.
PARTS = {"task": "/mnt/task", "tmp": "/tmp", "shm": "/dev/shm", "run": "/run/ironworks"}
# Less than this left on a task's tmpfs after a failure: the disk limit is what stopped it.
FULL_MARGIN_BYTES = 256 * 1024
MS_NOSUID, MS_NODEV, MS_NOEXEC, MNT_DETACH = 2, 4, 8, 2

_libc = ctypes.CDLL(None, use_errno=True)  # the C library Python itself runs on


class DiskError(IronworksError):
    """The runner cannot give a task its own size-limited space (no CAP_SYS_ADMIN?)."""


def prepare(root: Path, task: Task, config: dict[str, object], disk_mb: int) -> Path:
    path = make(root, f"{task.id}.{task.attempt}", disk_mb)
    fill(path, task, config)
    return path


def make(root: Path, name: str, disk_mb: int) -> Path:
    """An empty task directory on a fresh tmpfs of `disk_mb` (a warm container gets one
    before it has a task); returns the directory that becomes /mnt/task."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    space = root / name
    _release(space)
    space.mkdir()
    _mount_tmpfs(space, disk_mb)
    for part in PARTS:
        # The worker runs as an unprivileged user that owns nothing on the host; the space
        # itself stays private to the runner, so this opens each part to that task only.
        (space / part).mkdir()
        (space / part).chmod({"task": 0o777, "run": 0o755}.get(part, 0o1777))
    return space / "task"


def run_dir(task_dir: Path) -> Path:
    """Where the runner puts the task's API socket (the container's /run/ironworks)."""
    return task_dir.parent / "run"


def mounts(task_dir: Path) -> dict[Path, str]:
    """Host directory → path in the container, for every part of the task's space."""
    return {task_dir.parent / part: target for part, target in PARTS.items()}


def disk_full(task_dir: Path) -> bool:
    info = os.statvfs(task_dir)
    return info.f_bavail * info.f_frsize < FULL_MARGIN_BYTES


def _mount_tmpfs(path: Path, disk_mb: int) -> None:
    options = f"size={disk_mb}m,mode=0700".encode()
    if _libc.mount(b"tmpfs", bytes(path), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) != 0:
        errno = ctypes.get_errno()
        raise DiskError(
            f"cannot mount the task's tmpfs at {path}: {os.strerror(errno)}; the runner needs "
            "root with CAP_SYS_ADMIN to give each task its own disk limit"
        )


def _release(space: Path) -> None:
    """Unmount (lazily: a dying container may still hold it) and delete a task's space."""
    while os.path.ismount(space):
        if _libc.umount2(bytes(space), MNT_DETACH) != 0:
            break
    shutil.rmtree(space, ignore_errors=True)


def root_for(runner_dir: Path, runner_id: str) -> Path:
    """Where one runner keeps its tasks' spaces: a folder of its own, so that runners sharing
    a data directory never remove each other's (each clears its own at start and at stop)."""
    return runner_dir / "tasks" / runner_id.replace("/", "_")


def remove_all(root: Path) -> None:
    """A runner's start and stop: the spaces left behind (their containers are gone)."""
    if root.is_dir():
        for space in root.iterdir():
            _release(space)


def fill(path: Path, task: Task, config: dict[str, object]) -> None:
    (path / "payload.json").write_text(task.payload)
    (path / "config.json").write_text(json.dumps(config))


@dataclass(frozen=True)
class Progress:
    percent: int
    msg: str


def read_result(path: Path) -> str | None:
    """The JSON the task wrote to $RESULT_FILE, or an explicit error in its place."""
    try:
        raw = _read_task_file(path / RESULT_NAME, MAX_RESULT_BYTES)
    except TaskFileError as e:
        return json.dumps({"error": f"result {e}"})
    if raw is None:
        return None
    text = raw.decode(errors="replace")
    try:
        json.loads(text)
    except ValueError:
        return json.dumps({"error": "result file is not valid JSON"})
    return text


def read_progress(path: Path) -> Progress | None:
    """`{"percent": 40, "msg": "..."}` from $PROGRESS_FILE; None while absent or malformed
    (the task may be halfway through writing it)."""
    try:
        raw = _read_task_file(path / PROGRESS_NAME, MAX_PROGRESS_BYTES)
        data = json.loads(raw) if raw else None
    except (TaskFileError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("percent"), int | float):
        return None
    msg = data.get("msg")
    return Progress(
        max(0, min(100, int(data["percent"]))), msg[:500] if isinstance(msg, str) else ""
    )


class TaskFileError(Exception):
    """A file in the task directory that the runner will not read."""


def _read_task_file(path: Path, max_bytes: int) -> bytes | None:
    """Read a file the task wrote. It may be a symlink planted to make the runner read a host
    file, or a FIFO to make it hang: open without following links or blocking, and accept
    regular files only."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise TaskFileError("is not a regular file") from e
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise TaskFileError("is not a regular file")
        if info.st_size > max_bytes:
            raise TaskFileError(f"larger than {max_bytes} bytes was dropped")
        return f.read(max_bytes)


def remove(task_dir: Path) -> None:
    _release(task_dir.parent)
