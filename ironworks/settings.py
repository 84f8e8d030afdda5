"""One settings object per process, built once at start from the environment.

Every server-side variable is `IRONWORKS_<FIELD>` (upper case); units are in the names.
Unknown `IRONWORKS_*` variables are rejected so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ironworks.errors import ConfigError

# Variables read by the CLI / SDK, not by the servers; tolerated in a server's environment.
CLIENT_VARIABLES = frozenset({"IRONWORKS_URL", "IRONWORKS_TOKEN", "IRONWORKS_PROJECT_ID"})
PREFIX = "IRONWORKS_"
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Settings:
    # redis://…, or redis+sentinel://HOST:PORT,HOST:PORT/SERVICE[/DB] (ironworks/redisconn.py).
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Seals project secrets at rest (ironworks/secrets.py): base64 keys of 32 bytes, comma-
    # separated, the first sealing; `ironworks secret new-key` makes one. '' = no secrets.
    secrets_key: str = ""
    # >0: a write request is answered 2xx only once this many replicas have it (WAIT, up to
    # redis_replica_wait_ms), so a failover loses nothing acknowledged; else 503, and a retry
    # (with an idempotency key, for tasks) is safe.
    redis_min_replicas: int = 0
    redis_replica_wait_ms: int = 2000
    key_prefix: str = "iw"
    admin_token: str = ""
    data_dir: Path = Path.home() / ".ironworks"
    api_bind: str = "127.0.0.1:8080"
    # 0: two per core plus one, gunicorn's rule of thumb for I/O-bound workers.
    api_workers: int = 0
    # `text` for people, `json` (one object per line, with task and project ids) for machines.
    log_format: str = "text"
    # /healthz, /readyz and /metrics of the scheduler and the runner ('' = not served).
    scheduler_metrics_bind: str = "127.0.0.1:9101"
    runner_metrics_bind: str = "127.0.0.1:9102"
    max_payload_bytes: int = 64 * 1024
    max_archive_bytes: int = 100 * 1024 * 1024
    max_archive_files: int = 10_000
    max_unpacked_bytes: int = 500 * 1024 * 1024
    default_timeout_s: int = 3600
    max_timeout_s: int = 24 * 3600
    max_delay_s: int = 7 * 24 * 3600
    log_max_bytes: int = 10 * 1024 * 1024
    # The most log a code may ask to keep per task (`log_max_bytes`): the operator's, not the
    # tenant's, since logs live in Redis.
    max_log_max_bytes: int = 100 * 1024 * 1024
    # Ended tasks (record, log, index entries) and ended batches are deleted this long after
    # their end; a project may have its own period (`task_retention_s`).
    task_retention_s: int = 30 * 24 * 3600
    # Revisions a code keeps (the current one among them); older ones, and archives no kept
    # revision uses, are deleted at the next upload.
    revisions_kept: int = 10
    runner_concurrency: int = 2
    runner_clusters: str = "default"
    runner_id: str = ""
    runner_heartbeat_s: float = 5.0
    # Warm start: prestarted single-use containers per code revision (docs/architecture.md).
    warm_start: bool = False
    warm_idle_s: float = 60.0  # a code's pool empties after this long without a task
    warm_fresh_s: float = 600.0  # a prestarted container unused this long is replaced
    warm_memory_mb: int = 2048  # prestarted containers' memory limits, summed, at most
    warm_max_per_code: int = 4
    # On SIGTERM a runner takes no new task and lets running ones finish for this long, then
    # hands what remains back to admission (to run elsewhere, as a new attempt).
    runner_drain_s: float = 30.0
    # Where runners fetch code archives: the API (for runners on other hosts) or, when empty,
    # the blob directory under data_dir (a runner sharing the API's disk).
    api_url: str = ""
    # Fan-out: a task may queue tasks from inside (its API socket) this deep, and this many
    # per task; a project may set its own (max_task_depth, max_task_children).
    max_task_depth: int = 5
    max_task_children: int = 10_000
    # The largest request a task may send on its API socket.
    task_api_max_body_bytes: int = 8 * 1024 * 1024
    code_cache_max_bytes: int = 5 * 1024**3
    scheduler_idle_wait_s: float = 0.5
    # A runner renews its lease every lease_renew_s; one not renewed for lease_ttl_s is lost.
    lease_ttl_s: float = 15.0
    lease_renew_s: float = 3.0
    # An admitted task no runner has started within this is checked and, if lost, requeued.
    dispatch_lease_s: float = 60.0
    reaper_interval_s: float = 1.0
    # Outbound webhooks to loopback, private, link-local and other non-public addresses are
    # refused (ironworks/outbound.py); a single-team install or a test may allow them.
    webhook_allow_private: bool = False
    # Per-task container limits: the default, and the most a code may ask for.
    container_memory_mb: int = 512
    max_container_memory_mb: int = 8192
    container_cpus: float = 1.0
    max_container_cpus: float = 4.0
    container_tmpfs_mb: int = 64
    max_container_tmpfs_mb: int = 4096
    # Images a code may register instead of an archive: comma-separated shell patterns. Any
    # image on a runner host would otherwise do, another project's included.
    allowed_images: str = "ironworks/stack-*"
    container_pids_limit: int = 256
    container_nofile: int = 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        if "REDIS_URL" in environ:  # the conventional name, as platforms like Heroku set it
            values["redis_url"] = environ["REDIS_URL"]
        for name, raw in environ.items():
            if not name.startswith(PREFIX) or name in CLIENT_VARIABLES:
                continue
            field_name = name[len(PREFIX) :].lower()
            if field_name not in fields:
                raise ConfigError(f"unknown setting {name}")
            values[field_name] = _parse(name, raw, fields[field_name].default)
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.log_format not in LOG_FORMATS:
            raise ConfigError(f"IRONWORKS_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        return settings

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def runner_dir(self) -> Path:
        return self.data_dir / "runner"

    @property
    def api_worker_count(self) -> int:
        return self.api_workers or 2 * (os.cpu_count() or 1) + 1

    @property
    def api_base_url(self) -> str:
        """Where a runner reaches the API: api_url, else the API's own bind on this host."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host, _, port = self.api_bind.rpartition(":")
        return f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}"

    def image_allowed(self, image: str) -> bool:
        patterns = [p.strip() for p in self.allowed_images.split(",") if p.strip()]
        return any(fnmatch.fnmatchcase(image, pattern) for pattern in patterns)

    @property
    def clusters(self) -> list[str]:
        return [c.strip() for c in self.runner_clusters.split(",") if c.strip()]


def _parse(name: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw).expanduser()
    except ValueError as e:
        raise ConfigError(f"{name}={raw!r} is not a valid {type(default).__name__}") from e
    return raw
