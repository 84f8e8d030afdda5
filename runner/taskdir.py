"""The task's writable directory, /mnt/task inside the container: inputs in, result out."""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from ironworks.model import Task

RESULT_NAME = "result.json"
PROGRESS_NAME = "progress.json"
MAX_RESULT_BYTES = 1024 * 1024
MAX_PROGRESS_BYTES = 4096


def prepare(root: Path, task: Task, config: dict[str, object]) -> Path:
    path = make(root, f"{task.id}.{task.attempt}")
    fill(path, task, config)
    return path


def make(root: Path, name: str) -> Path:
    """An empty task directory (a warm container gets one before it has a task)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = root / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    # The worker runs as an unprivileged user that owns nothing on the host; the parent
    # directory stays private to the runner, so this opens the directory to that task only.
    path.chmod(0o777)
    return path


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


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
