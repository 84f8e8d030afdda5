"""Warm start: prestarted single-use containers, so that a task skips the engine's create and
start. Each waits in images/warm-entry.sh for its one task; a worker that gets a task of
the code revision takes one, fills its task directory, and hands it the task on stdin
(runner/spec.py hand_off), after which it is exactly a cold-started task's container; it is
removed after that task like any other. With none waiting, a worker waits for one the
warmer is making, if any: it is ready sooner than one made now, which would slow both. A
miss creates the same kind of container on the spot, so hit or miss, every task of a
warm-able code goes through the same entrypoint.

The pool lives in files under the runner's directory, shared by the processes of one runner:
  ready/<code>.<rev>/<container id>   a waiting container (its task directory inside);
                                      taking one is an atomic rename to claimed/
  claimed/<container id>              taken by a worker, removed with the container
  demand/<code>.<rev>/<time>          one per task started: what sizes the pools
  coming/<code>.<rev>/<time>          one per container the warmer is making; a worker
                                      that waits for it renames it <time>.awaited
The warmer (a process of each runner) keeps every pool at the size recent demand asks for,
within a memory budget (a busy code takes room from a pool at most half as busy), retires
pools of idle codes and of revisions no longer current, and replaces containers that died or
outlived their freshness.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import redis
from redis import Redis
from rq import Queue

from ironworks import logsetup
from ironworks.model import Code, Task
from ironworks.settings import Settings
from ironworks.store import Store
from runner import taskdir
from runner.cache import CodeCache
from runner.docker_driver import DockerDriver, DriverError, TaskContainer
from runner.spec import Placement, hand_off, limits_for, warm_key, warm_spec

log = logging.getLogger(__name__)

TICK_S = 0.1
CHECK_EVERY_S = 2.0  # how often waiting containers are inspected for death and staleness
# Tasks that waited for a worker leave every worker busy for a while after the queue empties
# (the last tasks of a burst); prestarts then would mostly compete with them.
AFTER_BACKLOG_S = 2.0
DEMAND_WINDOW_S = 10.0  # a pool is as large as the tasks its code started in this window
# The engine here made 3.5 containers/s one at a time, 5.4/s two at a time, 7.3/s three at a
# time; but 40 sequential tasks took 14.0 s, 8.8 s and 11.1 s: a third prestart slows the
# running tasks more than it speeds the refill.
PARALLEL_PRESTARTS = 2
# A worker that finds no container waiting but one coming waits for it this long at most
# (a prestart takes 0.3-0.6 s here), checking this often.
COMING_AT_MOST_S = 2.0
COMING_POLL_S = 0.01
AWAITED = ".awaited"


class Registry:
    def __init__(self, root: Path) -> None:
        self.ready, self.claimed, self.demand = root / "ready", root / "claimed", root / "demand"
        self.coming = root / "coming"

    def reset(self) -> None:
        """At runner start: what a previous life left describes containers now removed;
        their task directories go too."""
        for entry in self.ready.glob("*/*"):
            with contextlib.suppress(OSError):
                taskdir.remove(Path(entry.read_text()))
        for folder in (self.ready, self.claimed, self.demand, self.coming):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)

    def offer(self, key: str, container_id: str, task_dir: Path) -> None:
        folder = self.ready / key
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f".{container_id}"
        staged.write_text(str(task_dir))
        staged.rename(folder / container_id)  # whole or not at all, for take()

    @contextlib.contextmanager
    def announce(self, key: str) -> Iterator[None]:
        """The warmer is making a container of `key` (and offers it before this ends)."""
        folder = self.coming / key
        folder.mkdir(parents=True, exist_ok=True)
        mark = folder / f"{time.time():.6f}-{uuid.uuid4().hex}"
        mark.touch()
        try:
            yield
        finally:
            for name in (mark, mark.with_name(mark.name + AWAITED)):
                name.unlink(missing_ok=True)

    def take_coming(self, key: str) -> tuple[str, Path] | None:
        """None is waiting, but the warmer may be making one that no other worker awaits: it
        is usually ready well before one made now would be, and making one now would slow
        both down (engine contention)."""
        awaited = self.claim_coming(key, time.time())
        if awaited is None:
            return None
        deadline = time.monotonic() + COMING_AT_MOST_S
        while awaited.exists() and time.monotonic() < deadline:
            time.sleep(COMING_POLL_S)
            taken = self.take(key)
            if taken:
                return taken
        return self.take(key)  # offered just as its announcement ended (or never)

    def claim_coming(self, key: str, now: float) -> Path | None:
        """Await one announcement of `key` made less than COMING_AT_MOST_S ago that nobody
        awaits yet: the rename succeeds for one worker only, so that of two workers and one
        container coming, the second makes its own at once."""
        folder = self.coming / key
        try:
            marks = os.listdir(folder)
        except FileNotFoundError:
            return None
        for mark in marks:
            if mark.endswith(AWAITED) or float(mark.split("-", 1)[0]) <= now - COMING_AT_MOST_S:
                continue
            try:
                os.rename(folder / mark, folder / (mark + AWAITED))
            except FileNotFoundError:
                continue  # another worker claimed it, or it arrived
            return folder / (mark + AWAITED)
        return None

    def take(self, key: str) -> tuple[str, Path] | None:
        """Claim a waiting container of `key`: the rename succeeds for one taker only."""
        folder = self.ready / key
        try:
            entries = sorted(e for e in os.listdir(folder) if not e.startswith("."))
        except FileNotFoundError:
            return None
        for name in entries:
            try:
                os.rename(folder / name, self.claimed / name)
            except FileNotFoundError:
                continue  # another worker, or the warmer, took it first
            return name, Path((self.claimed / name).read_text())
        return None

    def withdraw(self, key: str, container_id: str) -> bool:
        """The warmer takes a waiting container back; False if a worker took it first."""
        try:
            os.unlink(self.ready / key / container_id)
            return True
        except FileNotFoundError:
            return False

    def release(self, container_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.claimed / container_id)

    def waiting(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for folder in self.ready.iterdir():
            found[folder.name] = [e for e in os.listdir(folder) if not e.startswith(".")]
        return found

    def note_demand(self, key: str) -> None:
        folder = self.demand / key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{time.time():.6f}-{os.getpid()}-{uuid.uuid4().hex[:6]}").touch()

    def recent_demand(self, now: float, idle_s: float) -> dict[str, tuple[int, float]]:
        """Per key: tasks started within DEMAND_WINDOW_S, and the time of the latest; notes
        older than idle_s are dropped (and with them, idle keys)."""
        found: dict[str, tuple[int, float]] = {}
        for folder in self.demand.iterdir():
            times = []
            for note in os.listdir(folder):
                at = float(note.split("-", 1)[0])
                if at < now - idle_s:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(folder / note)
                else:
                    times.append(at)
            if times:
                found[folder.name] = (sum(t >= now - DEMAND_WINDOW_S for t in times), max(times))
        return found


@dataclass(frozen=True)
class _Hold:
    """What the warmer keeps for a container while it waits: its code in the cache (a shared
    lock, which keeps it from eviction) and its task directory."""

    code: contextlib.ExitStack
    task_dir: Path
    memory_mb: int

    def hand_over(self) -> None:
        """A worker took the container: it holds the code itself, and removes the task
        directory with its task."""
        self.code.close()

    def release(self) -> None:
        self.code.close()
        taskdir.remove(self.task_dir)


@dataclass
class WarmStart:
    """The worker's side: a container for a task, taken from the pool or made now."""

    registry: Registry
    driver: DockerDriver
    placement: Placement
    settings: Settings
    task_root: Path

    def container_for(self, task: Task, code: Code, code_dir: Path | None) -> Started:
        key = warm_key(code)
        self.registry.note_demand(key)
        taken = self.registry.take(key) or self.registry.take_coming(key)
        container = self.driver.get(taken[0]) if taken else None
        if container is not None and container.is_running():
            task_dir, hit = taken[1], True
        else:
            if taken:  # it died while waiting: the warmer would replace it; we cannot wait
                self.registry.release(taken[0])
                taskdir.remove(taken[1])
                if container is not None:
                    container.remove()
            disk_mb = limits_for(code, self.settings).tmpfs_mb
            task_dir = taskdir.make(self.task_root, f"{task.id}.{task.attempt}", disk_mb)
            fresh_until = time.time() + self.settings.warm_fresh_s
            spec = warm_spec(
                code, code_dir, task_dir, self.placement, self.settings, fresh_until, task
            )
            container, hit = self.driver.start(spec), False
        started = Started(container, task_dir, hit)
        try:
            taskdir.fill(task_dir, task, code.config)
            container.hand_off(hand_off(task, code), task.id, task.attempt)
        except Exception:
            self.done(started)  # nothing else will clean up after a task that never began
            raise
        return started

    def done(self, started: Started) -> None:
        """After the task (or instead of it): the container, its directory, its claim."""
        started.container.remove()
        taskdir.remove(started.task_dir)
        self.registry.release(started.container.id)


@dataclass(frozen=True)
class Started:
    container: TaskContainer
    task_dir: Path
    hit: bool  # taken from the pool (else made for this task)


class Warmer:
    """Keeps the pools of one runner; see the module's docstring."""

    def __init__(self, store: Store, driver: DockerDriver, cache: CodeCache, settings: Settings,
                 placement: Placement) -> None:  # fmt: skip
        self.store, self.driver, self.cache, self.settings = store, driver, cache, settings
        self.placement = placement
        self.registry = Registry(settings.runner_dir / "warm")
        self.task_root = settings.runner_dir / "tasks"
        self.holds: dict[str, _Hold] = {}  # by container id
        self.checked_at = 0.0
        self.backlog_seen_at = 0.0
        # Prestarts run on threads of their own, as many at a time as pay (PARALLEL_PRESTARTS),
        # a new one as soon as one ends, so a busy code's pool refills as fast as the engine
        # allows. The lock keeps holds, offers and what is in flight consistent between them
        # and tick().
        self.prestarts = ThreadPoolExecutor(PARALLEL_PRESTARTS, thread_name_prefix="prestart")
        self.lock = threading.Lock()
        self.in_flight: collections.Counter[str] = collections.Counter()  # prestarts, by key
        self.in_flight_mb = 0
        connection = Redis.from_url(settings.redis_url)
        self.queues = [Queue(cluster, connection=connection) for cluster in settings.clusters]

    def tick(self, now: float) -> None:
        demand = self.registry.recent_demand(now, self.settings.warm_idle_s)
        with self.lock:
            waiting = self.registry.waiting()
            self._let_go_of_taken(waiting)
        for key, ids in waiting.items():
            if key not in demand or not self._current(key):
                for container_id in ids:
                    self._retire(key, container_id, "idle" if key not in demand else "old revision")
        if now - self.checked_at >= CHECK_EVERY_S:
            self.checked_at = now
            self._replace_dead_and_stale(waiting, now)
        if self._tasks_wait_for_workers():
            self.backlog_seen_at = now
        elif now - self.backlog_seen_at >= AFTER_BACKLOG_S:
            wanted, starved = self._shortfall(demand)
            for key, code, memory_mb in wanted:
                self._submit_prestart(key, code, memory_mb, now)
            if starved is not None:
                self._make_room_for(starved, demand)

    def _shortfall(
        self, demand: dict[str, tuple[int, float]]
    ) -> tuple[list[tuple[str, Code, int]], str | None]:
        """The containers to prestart now (key, code, memory limit): busiest codes first, each
        pool (waiting and coming) up to its recent demand, all within the memory budget; and the
        busiest code left short by the budget, if any."""
        with self.lock:
            held_mb = sum(h.memory_mb for h in self.holds.values()) + self.in_flight_mb
            waiting = self.registry.waiting()
            in_flight = self.in_flight.copy()
        budget = self.settings.warm_memory_mb - held_mb
        wanted = []
        for key, (recent, _) in sorted(demand.items(), key=lambda kv: -kv[1][0]):
            want = min(max(recent, 1), self.settings.warm_max_per_code)
            missing = want - len(waiting.get(key, [])) - in_flight[key]
            # Redis is asked only about a pool that is short: a full one costs no read a tick.
            if missing <= 0 or not self._current(key):
                continue
            code = self.store.codes.revision(*_split(key))  # warm-able: it has demand notes
            memory = limits_for(code, self.settings).memory_mb
            if memory > self.settings.warm_memory_mb:
                continue  # can never be prestarted: its tasks start as misses
            for _ in range(missing):
                if memory > budget:
                    return wanted, key
                wanted.append((key, code, memory))
                budget -= memory
        return wanted, None

    def _make_room_for(self, key: str, demand: dict[str, tuple[int, float]]) -> None:
        """The budget is spent and `key`'s pool is short: retire a waiting container of the
        quietest pool that is quieter and at most half as busy; its memory goes to `key` at a
        later tick. At most half, so that two codes about as busy do not take the budget from
        each other in turn."""
        busy = demand[key][0]
        waiting = self.registry.waiting()
        quieter = [
            (recent, other)
            for other, ids in waiting.items()
            if ids and (recent := demand.get(other, (0, 0.0))[0]) < busy and 2 * recent <= busy
        ]
        if quieter:
            _, other = min(quieter)
            self._retire(other, waiting[other][0], f"room for the busier {key}")

    def _tasks_wait_for_workers(self) -> bool:
        """Every worker serving our queues, here and on other runners, is busy. A container
        prestarted now would compete with the running tasks for the engine and be taken no
        sooner than the worker that takes the next task makes one itself: measured at 8 slots,
        prestarting through a backlog cost a tenth of the throughput."""
        return any(queue.count for queue in self.queues)

    def _current(self, key: str) -> bool:
        code_id, rev = _split(key)
        return self.store.codes.current_rev(code_id) == rev

    def _submit_prestart(self, key: str, code: Code, memory_mb: int, now: float) -> None:
        with self.lock:
            self.in_flight[key] += 1
            self.in_flight_mb += memory_mb
        prestart = self.prestarts.submit(self._prestart, key, code, memory_mb, now)
        prestart.add_done_callback(lambda _: self._landed(key, memory_mb))  # also if cancelled

    def _landed(self, key: str, memory_mb: int) -> None:
        with self.lock:
            self.in_flight[key] -= 1
            self.in_flight_mb -= memory_mb

    def _prestart(self, key: str, code: Code, memory_mb: int, now: float) -> None:
        disk_mb = limits_for(code, self.settings).tmpfs_mb
        task_dir = taskdir.make(self.task_root, f"warm-{uuid.uuid4().hex}", disk_mb)
        hold = _Hold(contextlib.ExitStack(), task_dir, memory_mb)
        with self.registry.announce(key):
            try:
                code_dir = (
                    hold.code.enter_context(self.cache.use(code)) if code.has_archive else None
                )
                fresh = now + self.settings.warm_fresh_s
                spec = warm_spec(code, code_dir, task_dir, self.placement, self.settings, fresh)
                container = self.driver.start(spec)
            except Exception as e:  # on a thread of its own: said here or nowhere
                hold.release()
                log.warning("could not prestart a container of %s: %s", key, e)
                return
            with self.lock:
                self.holds[container.id] = hold
                self.registry.offer(key, container.id, hold.task_dir)

    def _let_go_of_taken(self, waiting: dict[str, list[str]]) -> None:
        still_waiting = {c for ids in waiting.values() for c in ids}
        for container_id in list(self.holds):
            if container_id not in still_waiting:
                self.holds.pop(container_id).hand_over()

    def _retire(self, key: str, container_id: str, why: str) -> None:
        if not self.registry.withdraw(key, container_id):
            return  # a worker took it meanwhile
        container = self.driver.get(container_id)
        if container is not None:
            container.remove()
        with self.lock:
            hold = self.holds.pop(container_id, None)
        if hold is not None:
            hold.release()
        log.info("retired a waiting container of %s (%s)", key, why)

    def _replace_dead_and_stale(self, waiting: dict[str, list[str]], now: float) -> None:
        for key, ids in waiting.items():
            for container_id in ids:
                container = self.driver.get(container_id)
                if container is None or not container.is_running():
                    self._retire(key, container_id, "died")
                elif float(container.labels.get("io.ironworks.fresh_until", now)) <= now:
                    self._retire(key, container_id, "no longer fresh")

    def close(self) -> None:
        self.prestarts.shutdown(cancel_futures=True)  # lets those being made finish; then
        for key, ids in self.registry.waiting().items():
            for container_id in ids:
                self._retire(key, container_id, "runner stopping")


def _split(key: str) -> tuple[str, int]:
    code_id, rev = key.rsplit(".", 1)
    return code_id, int(rev)


def main(instance_id: str, runner_id: str) -> None:
    """Entry point of the warmer process the runner starts beside its workers."""
    from runner.job import code_cache  # the same cache the workers use

    settings = Settings.from_env()
    logsetup.configure("runner-warmer", settings.log_format)
    # A stop signal ends the loop, never close(): the runner's group and then the runner itself
    # each send one, and a waiting container that close() did not retire outlives the runner.
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    store, driver = Store.connect(settings), DockerDriver()
    warmer = Warmer(
        store, driver, code_cache(settings), settings, Placement(instance_id, runner_id)
    )
    try:
        while not stop.is_set():
            try:
                warmer.tick(time.time())
            except (redis.RedisError, DriverError) as e:
                log.warning("warmer: %s; retrying", e)
            stop.wait(TICK_S)
    finally:
        warmer.close()
