"""The only module that knows Redis keys: every read and write of platform state goes here."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from ironworks.model import new_id
from ironworks.settings import Settings
from ironworks.store.admission import AdmissionStore
from ironworks.store.batches import BatchStore
from ironworks.store.codes import CodeStore
from ironworks.store.counts import CountStore
from ironworks.store.events import EventStore
from ironworks.store.keys import Keys
from ironworks.store.projects import ProjectStore
from ironworks.store.runners import RunnerStore
from ironworks.store.schedules import ScheduleStore
from ironworks.store.scripts import Scripts
from ironworks.store.tasks import TaskStore
from ironworks.store.webhooks import WebhookStore


@dataclass(frozen=True)
class Store:
    redis: Redis
    keys: Keys
    projects: ProjectStore
    codes: CodeStore
    tasks: TaskStore
    batches: BatchStore
    admission: AdmissionStore
    events: EventStore
    schedules: ScheduleStore
    webhooks: WebhookStore
    runners: RunnerStore
    counts: CountStore

    @classmethod
    def connect(cls, settings: Settings) -> Store:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        return cls.for_redis(redis, settings.key_prefix)

    @classmethod
    def for_redis(cls, redis: Redis, prefix: str = "iw") -> Store:
        keys, scripts = Keys(prefix), Scripts(redis)
        tasks = TaskStore(redis, keys, scripts)
        return cls(
            redis=redis,
            keys=keys,
            projects=ProjectStore(redis, keys),
            codes=CodeStore(redis, keys),
            tasks=tasks,
            batches=BatchStore(redis, keys, scripts, tasks),
            admission=AdmissionStore(redis, keys, scripts),
            events=EventStore(redis, keys, scripts),
            schedules=ScheduleStore(redis, keys, scripts),
            webhooks=WebhookStore(redis, keys, scripts),
            runners=RunnerStore(redis, keys),
            counts=CountStore(redis, keys),
        )

    def instance_id(self) -> str:
        key = self.keys.instance()
        self.redis.set(key, new_id(), nx=True)
        return self.redis.get(key)

    def ping(self) -> bool:
        return bool(self.redis.ping())
