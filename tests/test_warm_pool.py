"""Warm pools without Docker: the pool's claims and its wait for a container being made, the
sizing policy, and a slot's hit or miss against the engine in memory."""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from runner import taskdir, warm_policy
from runner.fake_engine import FakeEngine, Script
from runner.spec import Placement, warm_key, warm_spec
from runner.warm import WarmStart
from runner.warm_pool import COMING_AT_MOST_S, Waiting, WarmPool
from tests.helpers import create_project, queue, upload


def waiting(container_id: str, memory_mb: int = 64) -> Waiting:
    container = SimpleNamespace(id=container_id)
    return Waiting(container, Path("/nonexistent"), memory_mb, contextlib.ExitStack())


def test_a_waiting_container_goes_to_one_taker_only():
    pool = WarmPool()
    pool.offer("code.1", waiting("c1"))
    assert pool.take("code.1").container_id == "c1"
    assert pool.take("code.1") is None


def test_a_slot_waits_for_the_container_the_warmer_is_making():
    pool = WarmPool()
    announced = threading.Event()

    def warmer() -> None:
        with pool.announce("code.1"):
            announced.set()
            time.sleep(0.1)
            pool.offer("code.1", waiting("c1"))

    making = threading.Thread(target=warmer)
    making.start()
    announced.wait()
    assert pool.take("code.1").container_id == "c1"
    making.join()


def test_one_coming_container_is_awaited_by_one_slot_only():
    pool = WarmPool()
    takers: list[Waiting | None] = []
    with pool.announce("code.1"):
        first = threading.Thread(target=lambda: takers.append(pool.take("code.1")))
        first.start()
        time.sleep(0.05)  # the first slot now waits for the one coming
        started = time.monotonic()
        assert pool.take("code.1") is None, "the second makes its own"
        assert time.monotonic() - started < 0.05, "at once"
        pool.offer("code.1", waiting("c1"))
        first.join()
    assert [t.container_id for t in takers] == ["c1"]


def test_a_slot_does_not_wait_for_a_prestart_that_failed_or_stalled(monkeypatch):
    pool = WarmPool()
    with pool.announce("code.1"):
        pass  # failed: nothing offered
    assert pool.take("code.1") is None
    with pool.announce("code.2"):
        later = time.monotonic() + COMING_AT_MOST_S
        monkeypatch.setattr(time, "monotonic", lambda: later)
        assert pool.take("code.2") is None, "announced too long ago"


def test_demand_counts_recent_starts_and_forgets_idle_codes(monkeypatch):
    pool = WarmPool()
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    for _ in range(3):
        pool.note_demand("busy.1")
    pool.note_demand("quiet.1")
    clock[0] += 30
    pool.note_demand("busy.1")
    assert pool.recent_demand(idle_s=60) == {"busy.1": 1, "quiet.1": 0}
    clock[0] += 45
    assert pool.recent_demand(idle_s=60) == {"busy.1": 0}


def sizes(demand, pooled=(), memory=64, budget=1024, max_per_code=4):
    return warm_policy.shortfall(
        demand, collections.Counter(dict(pooled)), lambda key: memory, budget, max_per_code
    )


def test_pools_grow_to_recent_demand_busiest_first_and_at_most_max_per_code():
    wanted, starved = sizes({"a.1": 2, "b.1": 9, "c.1": 0}, pooled={"a.1": 1})
    assert wanted == ["b.1"] * 4 + ["a.1", "c.1"] and starved is None


def test_the_budget_bounds_the_pools_and_names_the_code_left_short():
    wanted, starved = sizes({"a.1": 3, "b.1": 1}, memory=100, budget=250)
    assert wanted == ["a.1", "a.1"] and starved == "a.1"


def test_a_revision_not_to_be_warmed_gets_nothing_and_is_asked_only_when_short():
    asked = []

    def memory_mb(key):
        asked.append(key)
        return None if key == "old.1" else 64

    wanted, _ = warm_policy.shortfall(
        {"old.1": 2, "full.1": 1}, collections.Counter({"full.1": 1}), memory_mb, 1024, 4
    )
    assert wanted == [] and asked == ["old.1"]


def test_room_is_made_only_from_a_pool_at_most_half_as_busy():
    take_from = warm_policy.make_room_from
    assert (
        take_from("busy.1", {"busy.1": 8, "half.1": 4, "idle.1": 0}, {"half.1": 1, "idle.1": 1})
        == "idle.1"
    )
    assert take_from("busy.1", {"busy.1": 8, "half.1": 4}, {"half.1": 2}) == "half.1"
    assert take_from("busy.1", {"busy.1": 8, "near.1": 5}, {"near.1": 2}) is None
    assert take_from("busy.1", {"busy.1": 8, "half.1": 4}, {"half.1": 0}) is None


def test_a_slot_takes_a_waiting_container_and_makes_its_own_past_a_dead_one(api, store, settings):
    project = create_project(api)
    assert (
        upload(api, project, {"name": "w", "stack": "sh", "command": "sh run.sh"}).status_code
        == 200
    )
    response = queue(api, project, {"code_name": "w", "payload": "{}"})
    task = store.tasks.get(response.json["tasks"][0]["id"])
    code = store.codes.revision(task.code_id, task.code_rev)
    engine, pool = FakeEngine(lambda spec: Script(runs_s=None)), WarmPool()
    placement, task_root = Placement(store.instance_id(), "r1"), settings.runner_dir / "tasks"
    slot = WarmStart(pool, engine, placement, settings, task_root)

    def prestart(name: str):
        task_dir = taskdir.make(task_root, name, 8)
        spec = warm_spec(code, None, task_dir, placement, settings, time.time() + 60)
        container = engine.start(spec)
        pool.offer(warm_key(code), Waiting(container, task_dir, 64, contextlib.ExitStack()))
        return container

    waiting_one = prestart("w1")
    hit = slot.container_for(task, code, None)
    assert hit.hit and hit.container is waiting_one
    assert waiting_one.owner() == (task.id, task.attempt) and waiting_one.handed
    dead = prestart("w2")
    dead.kill()
    miss = slot.container_for(task, code, None)
    assert not miss.hit and dead.removed and miss.container.owner() == (task.id, task.attempt)
    for started in (hit, miss):
        slot.done(started)
    assert engine.present() == [] and list(task_root.iterdir()) == []
