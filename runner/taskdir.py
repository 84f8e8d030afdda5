"""The task's writable directory, /mnt/task inside the container: inputs in, result out."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from ironworks.model import Task

RESULT_NAME = "result.json"
MAX_RESULT_BYTES = 1024 * 1024


def prepare(root: Path, task: Task, config: dict[str, object]) -> Path:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = root / f"{task.id}.{task.attempt}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    # The worker runs as an unprivileged user that owns nothing on the host; the parent
    # directory stays private to the runner, so this opens the directory to that task only.
    path.chmod(0o777)
    (path / "payload.json").write_text(task.payload)
    (path / "config.json").write_text(json.dumps(config))
    return path


def read_result(path: Path) -> str | None:
    """The JSON the task wrote to $RESULT_FILE, or an explicit error in its place.

    The file is the task's: it may be a symlink planted to make the runner read a host file,
    so it is opened without following links and must be a regular file.
    """
    try:
        fd = os.open(path / RESULT_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError:
        return _result_error("result file is not a regular file")
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            return _result_error("result file is not a regular file")
        if info.st_size > MAX_RESULT_BYTES:
            return _result_error(f"result larger than {MAX_RESULT_BYTES} bytes was dropped")
        text = f.read(MAX_RESULT_BYTES).decode(errors="replace")
    try:
        json.loads(text)
    except ValueError:
        return _result_error("result file is not valid JSON")
    return text


def _result_error(msg: str) -> str:
    return json.dumps({"error": msg})


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
