"""The fields of a code upload (`data` part), checked and turned into a Code draft."""

from __future__ import annotations

import json
import re
import time

from api import parsing
from ironworks.errors import BadRequest
from ironworks.model import MAX_RETRIES, PRIORITIES, Code
from ironworks.settings import Settings
from ironworks.stacks import STACKS, legacy_runtime

MAX_CONFIG_BYTES = 64 * 1024
# name[:tag][@digest], as Docker spells image references.
IMAGE_RE = re.compile(r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$")


def draft(project_id: str, data: dict, settings: Settings, has_archive: bool) -> Code:
    """A Code without id, revision or archive: the store and the blob store add those."""
    stack, command = _stack_and_command(data)
    image = parsing.optional_str(data, "image", max_len=255)
    if image is not None and not IMAGE_RE.match(image):
        raise BadRequest("'image' is not a valid image reference")
    if image is not None and not settings.image_allowed(image):
        raise BadRequest(
            f"'image' {image!r} is not one this installation allows ({settings.allowed_images})"
        )
    if has_archive == (image is not None):
        raise BadRequest("send either a zip archive ('file') or a registered 'image', not both")
    return Code(
        id="",
        project_id=project_id,
        name=parsing.name(data, "name"),
        rev=0,
        stack=stack,
        command=command,
        archive_sha256="",
        archive_size=0,
        created_at=time.time(),
        max_concurrency=_unlimited_as_none(parsing.optional_int(data, "max_concurrency", low=-1)),
        timeout=parsing.optional_int(data, "timeout", low=1, high=settings.max_timeout_s),
        env_vars=parsing.str_dict(data, "env_vars"),
        retries=parsing.optional_int(data, "retries", low=0, high=MAX_RETRIES) or 0,
        retries_delay=parsing.optional_int(data, "retries_delay", low=0, high=settings.max_delay_s)
        or 0,
        memory_mb=parsing.optional_int(
            data, "memory", low=16, high=settings.max_container_memory_mb
        ),
        cpus=parsing.optional_float(data, "cpus", low=0.01, high=settings.max_container_cpus),
        disk_mb=parsing.optional_int(data, "disk", low=1, high=settings.max_container_tmpfs_mb),
        log_max_bytes=parsing.optional_int(
            data, "log_max_bytes", low=1024, high=settings.max_log_max_bytes
        ),
        network=parsing.optional_bool(data, "network") or False,
        warm=parsing.optional_bool(data, "warm") is not False,
        image=image,
        config=_config(data),
        default_priority=parsing.optional_int(
            data, "default_priority", low=min(PRIORITIES), high=max(PRIORITIES)
        )
        or 0,
    )


def _config(data: dict) -> dict[str, object]:
    config = data.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise BadRequest("'config' must be a JSON object")
    if len(json.dumps(config)) > MAX_CONFIG_BYTES:
        raise BadRequest(f"'config' is larger than {MAX_CONFIG_BYTES} bytes")
    return config


def _stack_and_command(data: dict) -> tuple[str, str]:
    """Either `stack` + `command`, or IronWorker's legacy `runtime` + `file_name`."""
    runtime = parsing.optional_str(data, "runtime", max_len=32)
    file_name = parsing.optional_str(data, "file_name", max_len=255)
    stack = parsing.optional_str(data, "stack", max_len=32)
    command = parsing.optional_str(data, "command", max_len=4096)
    if command is None and runtime and file_name:
        stack, command = legacy_runtime(runtime, file_name)
    stack = stack or "sh"
    if stack not in STACKS:
        raise BadRequest(f"unknown stack {stack!r}; known: {', '.join(sorted(STACKS))}")
    if not command:
        raise BadRequest("'command' is required (or the legacy 'runtime' + 'file_name')")
    return stack, command


def _unlimited_as_none(value: int | None) -> int | None:
    """IronWorker sends -1 for 'no limit'; 0 would mean the code can never run, so refuse it."""
    if value == 0:
        raise BadRequest("'max_concurrency' must be >= 1, or -1/null for unlimited")
    return None if value is None or value < 0 else value
