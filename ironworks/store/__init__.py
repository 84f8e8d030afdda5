"""The only module that knows Redis keys: every read and write of platform state goes here."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import redis
from redis import Redis

from ironworks import redisconn
from ironworks.settings import Settings
from ironworks.store.activity import ActivityStore
from ironworks.store.admission import AdmissionStore
from ironworks.store.audit import AuditStore
from ironworks.store.batches import BatchStore
from ironworks.store.codes import CodeStore
from ironworks.store.counts import CountStore
from ironworks.store.dependencies import DependencyStore
from ironworks.store.events import EventStore
from ironworks.store.keys import Keys
from ironworks.store.projects import ProjectStore
from ironworks.store.retention import RetentionStore
from ironworks.store.runners import RunnerStore
from ironworks.store.schedules import ScheduleStore
from ironworks.store.scripts import Scripts
from ironworks.store.secret_values import SecretStore
from ironworks.store.task_tokens import TaskTokenStore
from ironworks.store.tasks import TaskStore
from ironworks.store.webhooks import WebhookStore

# Redis cannot take this call now but may soon: unreachable (a restart, a failover) or full
# (`maxmemory` reached; with noeviction it refuses writes and keeps every key). Nothing was
# half-done — a script or MULTI that is refused wrote nothing — so the caller waits and retries.
PASSING_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.OutOfMemoryError)


@dataclass(frozen=True)
class Store:
    redis: Redis
    keys: Keys
    projects: ProjectStore
    codes: CodeStore
    tasks: TaskStore
    dependencies: DependencyStore
    batches: BatchStore
    admission: AdmissionStore
    events: EventStore
    schedules: ScheduleStore
    webhooks: WebhookStore
    runners: RunnerStore
    counts: CountStore
    activity: ActivityStore
    retention: RetentionStore
    secrets: SecretStore
    audit: AuditStore
    task_tokens: TaskTokenStore

    @classmethod
    def connect(cls, settings: Settings) -> Store:
        redis = redisconn.connect(settings.redis_url, decode_responses=True)
        return cls.for_redis(redis, settings.key_prefix, settings.task_retention_s)

    @classmethod
    def for_redis(
        cls, redis: Redis, prefix: str = "iw", retention_s: int = Settings.task_retention_s
    ) -> Store:
        keys = Keys(prefix)
        scripts = Scripts(redis, keys)
        tasks = TaskStore(redis, keys, scripts, retention_s)
        retention = RetentionStore(redis, keys, retention_s)
        return cls(
            redis=redis,
            keys=keys,
            projects=ProjectStore(redis, keys),
            codes=CodeStore(redis, keys),
            tasks=tasks,
            dependencies=DependencyStore(redis, keys, scripts, tasks),
            batches=BatchStore(redis, keys, scripts, tasks, retention),
            admission=AdmissionStore(redis, keys, scripts),
            events=EventStore(redis, keys, scripts),
            schedules=ScheduleStore(redis, keys, scripts),
            webhooks=WebhookStore(redis, keys, scripts),
            runners=RunnerStore(redis, keys),
            counts=CountStore(redis, keys),
            activity=ActivityStore(redis, keys),
            retention=retention,
            secrets=SecretStore(redis, keys),
            audit=AuditStore(redis, keys),
            task_tokens=TaskTokenStore(redis, keys),
        )

    def instance_id(self) -> str:
        return self._shared_random(self.keys.instance())

    def session_secret(self) -> str:
        """Signs the dashboard's session cookies; the same for every API process."""
        return self._shared_random(self.keys.session_secret())

    def _shared_random(self, key: str) -> str:
        """A random value made once per installation: the first process to ask sets it."""
        self.redis.set(key, secrets.token_hex(32), nx=True)
        return self.redis.get(key)

    def replicated(self, replicas: int, timeout_ms: int) -> bool:
        """Whether at least `replicas` replicas have every write made so far (by any client of
        this Redis) within `timeout_ms`. WAIT counts the writes of its own connection, so one
        write of ours goes first on the same connection; it comes after the writes to confirm."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(self.keys.replication_mark())
        pipe.wait(replicas, timeout_ms)
        return pipe.execute()[1] >= replicas

    def ping(self) -> bool:
        return bool(self.redis.ping())
