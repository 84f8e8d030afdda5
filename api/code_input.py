"""The fields of a code upload (`data` part, api.bodies.CodeData), checked against the
installation's own limits and turned into a Code draft."""

from __future__ import annotations

import json
import time

from api import bodies
from ironworks import lanes, secrets
from ironworks.errors import BadRequest
from ironworks.model import Code
from ironworks.settings import Settings
from ironworks.stacks import STACKS, legacy_runtime

MAX_CONFIG_BYTES = 64 * 1024


def draft(project_id: str, raw: dict, settings: Settings, has_archive: bool) -> Code:
    """A Code without id, revision or archive: the store and the blob store add those."""
    data = bodies.read(bodies.CodeData, raw)
    stack, command = _stack_and_command(data)
    if data.image is not None and not settings.image_allowed(data.image):
        allowed = settings.allowed_images
        raise BadRequest(f"'image' {data.image!r} is not one this installation allows ({allowed})")
    if has_archive == (data.image is not None):
        raise BadRequest("send either a zip archive ('file') or a registered 'image', not both")
    if data.concurrency_key is not None:
        lanes.template_fields(data.concurrency_key)
    rate = data.rate_limit
    return Code(
        id="",
        project_id=project_id,
        name=data.name,
        rev=0,
        stack=stack,
        command=command,
        archive_sha256="",
        archive_size=0,
        created_at=time.time(),
        max_concurrency=_unlimited_as_none(data.max_concurrency),
        timeout=bodies.at_most(data.timeout, settings.max_timeout_s, "timeout"),
        env_vars=data.env_vars or {},
        secrets=_secret_names(data.secrets),
        retries=data.retries or 0,
        retries_delay=bodies.at_most(data.retries_delay, settings.max_delay_s, "retries_delay")
        or 0,
        memory_mb=bodies.at_most(data.memory, settings.max_container_memory_mb, "memory"),
        cpus=bodies.at_most(data.cpus, settings.max_container_cpus, "cpus"),
        disk_mb=bodies.at_most(data.disk, settings.max_container_tmpfs_mb, "disk"),
        log_max_bytes=bodies.at_most(
            data.log_max_bytes, settings.max_log_max_bytes, "log_max_bytes"
        ),
        network=bool(data.network),
        warm=data.warm is not False,
        image=data.image,
        config=_config(data.config),
        default_priority=data.default_priority or 0,
        concurrency_key=data.concurrency_key,
        max_concurrency_per_key=data.max_concurrency_per_key,
        rate_limit_count=rate.count if rate else None,
        rate_limit_period_s=rate.period_s if rate else None,
        rate_limit_per_key=bool(rate and rate.per_key),
    )


def _secret_names(names: list[str] | None) -> list[str]:
    """Valid names, each once (the route checks that the project has them)."""
    return list(dict.fromkeys(secrets.check_name(n) for n in names or []))


def _config(config: dict[str, object] | None) -> dict[str, object]:
    if config is not None and len(json.dumps(config)) > MAX_CONFIG_BYTES:
        raise BadRequest(f"'config' is larger than {MAX_CONFIG_BYTES} bytes")
    return config or {}


def _stack_and_command(data: bodies.CodeData) -> tuple[str, str]:
    """Either `stack` + `command`, or IronWorker's legacy `runtime` + `file_name`."""
    stack, command = data.stack, data.command
    if command is None and data.runtime and data.file_name:
        stack, command = legacy_runtime(data.runtime, data.file_name)
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
