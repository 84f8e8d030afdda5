"""Process logging: text lines for people, JSON lines (IRONWORKS_LOG_FORMAT=json) for machines.

The ids of the task (and project) a stretch of work is about ride along on every line logged
within `log_context(task_id=..., project_id=...)`, in either format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

from ironworks.views import iso

# Each log_context sets a new mapping; none is ever changed in place.
_ids: ContextVar[Mapping[str, str]] = ContextVar("ironworks_log_ids", default=MappingProxyType({}))


@contextmanager
def log_context(**ids: str) -> Iterator[None]:
    token = _ids.set({**_ids.get(), **ids})
    try:
        yield
    finally:
        _ids.reset(token)


class TextFormatter(logging.Formatter):
    def __init__(self, role: str) -> None:
        super().__init__(f"%(asctime)s {role} %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{k}={v}" for k, v in _ids.get().items())
        return f"{line} [{ids}]" if ids else line


class JsonFormatter(logging.Formatter):
    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": iso(record.created),
            "level": record.levelname.lower(),
            "role": self.role,
            "logger": record.name,
            "msg": record.getMessage(),
            **_ids.get(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def formatter(role: str, log_format: str) -> logging.Formatter:
    return JsonFormatter(role) if log_format == "json" else TextFormatter(role)


def configure(role: str, log_format: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(role, log_format))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
