"""Warm start: prestarted single-use containers, so that a task skips the engine's create and
start. Each waits in images/warm-entry.sh for its one task; a slot that gets a task of the
code revision takes one from the pool (runner/warm_pool.py), fills its task directory, and
hands it the task on stdin (spec.hand_off), after which it is exactly a cold-started task's
container; it is removed after that task like any other. With none waiting, a slot waits for
one the warmer is making, if any. A miss creates the same kind of container on the spot, so
hit or miss, every task of a warm-able code goes through the same entrypoint.

The warmer (a thread of the runner) keeps every pool at the size recent demand asks for,
within a memory budget (runner/warm_policy.py), retires pools of idle codes and of revisions
no longer current, and replaces containers that died or outlived their freshness.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import redis

from ironworks.model import Code, Task
from ironworks.settings import Settings
from ironworks.store import Store
from runner import taskdir, warm_policy
from runner.cache import CodeCache
from runner.engine import Container, DriverError, Engine
from runner.spec import LABEL_FRESH_UNTIL, Placement, hand_off, limits_for, warm_key, warm_spec
from runner.warm_pool import Waiting, WarmPool

log = logging.getLogger(__name__)

TICK_S = 0.1
CHECK_EVERY_S = 2.0  # how often waiting containers are inspected for death and staleness
# Tasks that waited for a slot leave every slot busy for a while after the queue empties
# (the last tasks of a burst); prestarts then would mostly compete with them.
AFTER_BACKLOG_S = 2.0
# Prestarting in parallel refills a pool faster, but each prestart competes with the running
# tasks for the engine: past two, the tasks lose more than the refill gains (the figures are
# in bench/RESULTS.md, "warm").
PARALLEL_PRESTARTS = 2


@dataclass(frozen=True)
class Started:
    container: Container
    task_dir: Path
    hit: bool  # taken from the pool (else made for this task)


@dataclass
class WarmStart:
    """A slot's side: a container for a task, taken from the pool or made now."""

    pool: WarmPool
    engine: Engine
    placement: Placement
    settings: Settings
    task_root: Path

    def container_for(
        self, task: Task, code: Code, code_dir: Path | None,
        before_start: Callable[[Path], None] = lambda task_dir: None,
    ) -> Started:  # fmt: skip
        """`before_start(task_dir)` runs when the task's space is ready and it has not begun."""
        key = warm_key(code)
        self.pool.note_demand(key)
        taken = self.pool.take(key)
        if taken is not None:
            taken.hand_over()
            hit = Started(taken.container, taken.task_dir, hit=True)
            try:
                self._give_task(hit, task, code, before_start)
                return hit
            except DriverError as e:  # it died while waiting, and the warmer has not seen it
                log.info("a waiting container of %s had died (%s); making one", key, e)
        disk_mb = limits_for(code, self.settings).tmpfs_mb
        task_dir = taskdir.make(self.task_root, f"{task.id}.{task.attempt}", disk_mb)
        fresh_until = time.time() + self.settings.warm_fresh_s
        spec = warm_spec(code, code_dir, task_dir, self.placement, self.settings, fresh_until, task)
        miss = Started(self.engine.start(spec), task_dir, hit=False)
        self._give_task(miss, task, code, before_start)
        return miss

    def _give_task(
        self, started: Started, task: Task, code: Code, before_start: Callable[[Path], None]
    ) -> None:
        """Its task directory filled and its task on its stdin (no inspection first: that
        would cost every hit a call to the engine, to catch what the warmer catches)."""
        try:
            taskdir.fill(started.task_dir, task, code.config)
            before_start(started.task_dir)
            started.container.hand_off(hand_off(task, code), task.id, task.attempt)
        except Exception:
            self.done(started)  # nothing else will clean up after a task that never began
            raise

    @staticmethod
    def done(started: Started) -> None:
        """After the task (or instead of it): the container and its directory."""
        started.container.remove()
        taskdir.remove(started.task_dir)


class Warmer:
    """Keeps the pools of one runner; see the module's docstring."""

    def __init__(self, store: Store, engine: Engine, cache: CodeCache, settings: Settings,
                 placement: Placement, pool: WarmPool,
                 backlogged: Callable[[], bool]) -> None:  # fmt: skip
        self.store, self.engine, self.cache, self.settings = store, engine, cache, settings
        self.placement, self.pool, self.backlogged = placement, pool, backlogged
        self.task_root = taskdir.root_for(settings.runner_dir, placement.runner_id)
        self.checked_at = 0.0
        self.backlog_seen_at = 0.0
        # Prestarts run on threads of their own, as many at a time as pay (PARALLEL_PRESTARTS),
        # a new one as soon as one ends, so a busy code's pool refills as fast as the engine
        # allows. What is in flight counts against the budget until it lands.
        self.prestarts = ThreadPoolExecutor(PARALLEL_PRESTARTS, thread_name_prefix="prestart")
        self.lock = threading.Lock()
        self.in_flight: collections.Counter[str] = collections.Counter()  # prestarts, by key
        self.in_flight_mb = 0

    def tick(self, now: float) -> None:
        demand = self.pool.recent_demand(self.settings.warm_idle_s)
        waiting = self.pool.waiting()
        for key, ids in waiting.items():
            if key not in demand or not self._current(key):
                for container_id in ids:
                    self._retire(key, container_id, "idle" if key not in demand else "old revision")
        if now - self.checked_at >= CHECK_EVERY_S:
            self.checked_at = now
            self._replace_dead_and_stale(waiting, now)
        # Every slot serving our queues, here and on other runners, is busy: a container
        # prestarted now would compete with the running tasks for the engine and be taken no
        # sooner than the slot that takes the next task makes one itself (measured at 8 slots,
        # prestarting through a backlog cost a tenth of the throughput).
        if self.backlogged():
            self.backlog_seen_at = now
        elif now - self.backlog_seen_at >= AFTER_BACKLOG_S:
            self._refill(demand)

    def _refill(self, demand: dict[str, int]) -> None:
        waiting = self.pool.waiting()
        with self.lock:
            pooled = collections.Counter({k: len(ids) for k, ids in waiting.items()})
            pooled.update(self.in_flight)
            budget = self.settings.warm_memory_mb - self.pool.held_mb() - self.in_flight_mb
        codes: dict[str, Code] = {}

        def memory_mb(key: str) -> int | None:
            if not self._current(key):
                return None
            codes[key] = self.store.codes.revision(*_split(key))
            memory = limits_for(codes[key], self.settings).memory_mb
            return memory if memory <= self.settings.warm_memory_mb else None

        wanted, starved = warm_policy.shortfall(
            demand, pooled, memory_mb, budget, self.settings.warm_max_per_code
        )
        for key in wanted:
            self._submit_prestart(key, codes[key])
        if starved is not None:
            counts = {k: len(ids) for k, ids in waiting.items()}
            quieter = warm_policy.make_room_from(starved, demand, counts)
            if quieter is not None:
                self._retire(quieter, waiting[quieter][0], f"room for the busier {starved}")

    def _current(self, key: str) -> bool:
        code_id, rev = _split(key)
        return self.store.codes.current_rev(code_id) == rev

    def _submit_prestart(self, key: str, code: Code) -> None:
        memory_mb = limits_for(code, self.settings).memory_mb
        with self.lock:
            self.in_flight[key] += 1
            self.in_flight_mb += memory_mb
        prestart = self.prestarts.submit(self._prestart, key, code, memory_mb)
        prestart.add_done_callback(lambda _: self._landed(key, memory_mb))  # also if cancelled

    def _landed(self, key: str, memory_mb: int) -> None:
        with self.lock:
            self.in_flight[key] -= 1
            self.in_flight_mb -= memory_mb

    def _prestart(self, key: str, code: Code, memory_mb: int) -> None:
        disk_mb = limits_for(code, self.settings).tmpfs_mb
        task_dir = taskdir.make(self.task_root, f"warm-{uuid.uuid4().hex}", disk_mb)
        held = contextlib.ExitStack()
        with self.pool.announce(key):
            try:
                code_dir = held.enter_context(self.cache.use(code)) if code.has_archive else None
                fresh = time.time() + self.settings.warm_fresh_s
                spec = warm_spec(code, code_dir, task_dir, self.placement, self.settings, fresh)
                container = self.engine.start(spec)
            except Exception as e:  # on a thread of its own: said here or nowhere
                held.close()
                taskdir.remove(task_dir)
                log.warning("could not prestart a container of %s: %s", key, e)
                return
            self.pool.offer(key, Waiting(container, task_dir, memory_mb, held))
            log.info("made a waiting container of %s: %s", key, container.id[:12])

    def _retire(self, key: str, container_id: str, why: str) -> None:
        waiting = self.pool.withdraw(key, container_id)
        if waiting is None:
            return  # a slot took it meanwhile
        container = self.engine.get(container_id)
        if container is not None:
            container.remove()
        waiting.release()
        log.info("retired a waiting container of %s (%s): %s", key, why, container_id[:12])

    def _replace_dead_and_stale(self, waiting: dict[str, list[str]], now: float) -> None:
        for key, ids in waiting.items():
            for container_id in ids:
                container = self.engine.get(container_id)
                if container is None or not container.is_running():
                    self._retire(key, container_id, "died")
                elif float(container.labels.get(LABEL_FRESH_UNTIL, now)) <= now:
                    self._retire(key, container_id, "no longer fresh")

    def run(self, stop: threading.Event) -> None:
        """The warmer's thread: ticks until `stop` is set, then retires every pool."""
        try:
            while not stop.wait(TICK_S):
                try:
                    self.tick(time.time())
                except (redis.RedisError, DriverError) as e:
                    log.warning("warmer: %s; retrying", e)
        finally:
            self.prestarts.shutdown(cancel_futures=True)  # lets those being made land; then
            for key, ids in self.pool.waiting().items():
                for container_id in ids:
                    self._retire(key, container_id, "runner stopping")


def _split(key: str) -> tuple[str, int]:
    code_id, rev = key.rsplit(".", 1)
    return code_id, int(rev)
