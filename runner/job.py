"""The function RQ calls for each dispatched task (referenced by name by the scheduler)."""

from __future__ import annotations

import functools

from ironworks.archive import ArchiveLimits
from ironworks.settings import Settings
from ironworks.store import Store
from runner.cache import ApiArchives, ArchiveSource, CodeCache, LocalArchives
from runner.docker_driver import DockerDriver
from runner.execute import LettingGo, RunnerContext, execute
from runner.spec import Placement
from runner.warm import Registry, WarmStart


def run_task(task_id: str, attempt: int) -> None:
    execute(worker_context(), task_id, int(attempt))


def archive_source(settings: Settings) -> ArchiveSource:
    if settings.api_url:
        return ApiArchives(settings.api_url, settings.admin_token)
    return LocalArchives(settings.blob_dir)


def code_cache(settings: Settings) -> CodeCache:
    return CodeCache(
        settings.runner_dir / "code",
        archive_source(settings),
        ArchiveLimits.from_settings(settings),
        settings.code_cache_max_bytes,
    )


@functools.cache
def worker_context() -> RunnerContext:
    """One per worker process, built on its first task: workers are forked before they run
    anything, so no Redis connection or Docker client is ever shared across a fork."""
    settings = Settings.from_env()
    store = Store.connect(settings)
    driver = DockerDriver()
    placement = Placement(store.instance_id(), settings.runner_id)
    task_root = settings.runner_dir / "tasks"
    warm = (
        WarmStart(Registry(settings.runner_dir / "warm"), driver, placement, settings, task_root)
        if settings.warm_start
        else None
    )
    return RunnerContext(
        settings=settings,
        store=store,
        driver=driver,
        cache=code_cache(settings),
        placement=placement,
        task_root=task_root,
        warm=warm,
        letting_go=LettingGo(),
    )
