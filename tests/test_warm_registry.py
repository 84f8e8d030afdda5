"""The warm pool's registry (files shared by a runner's processes): claims and the wait for a
container the warmer is still making."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from runner.warm import COMING_AT_MOST_S, Registry


def registry(tmp_path: Path) -> Registry:
    found = Registry(tmp_path / "warm")
    found.reset()
    return found


def test_a_waiting_container_goes_to_one_taker_only(tmp_path):
    pool = registry(tmp_path)
    pool.offer("code.1", "c1", tmp_path / "task")
    assert pool.take("code.1") == ("c1", tmp_path / "task")
    assert pool.take("code.1") is None and pool.take_coming("code.1") is None


def test_a_worker_waits_for_the_container_the_warmer_is_making(tmp_path):
    pool = registry(tmp_path)
    announced = threading.Event()

    def warmer() -> None:
        with pool.announce("code.1"):
            announced.set()
            time.sleep(0.2)
            pool.offer("code.1", "c1", tmp_path / "task")

    making = threading.Thread(target=warmer)
    making.start()
    announced.wait()
    assert pool.take_coming("code.1") == ("c1", tmp_path / "task")
    making.join()
    assert not list(pool.coming.glob("*/*")), "the announcement is gone with its container"


def test_one_coming_container_is_awaited_by_one_worker_only(tmp_path):
    pool = registry(tmp_path)
    now = time.time()
    with pool.announce("code.1"):
        assert pool.claim_coming("code.1", now) is not None
        assert pool.claim_coming("code.1", now) is None
    assert not list(pool.coming.glob("*/*"))


def test_a_worker_does_not_wait_for_a_prestart_that_failed_or_stalled(tmp_path):
    pool = registry(tmp_path)
    with pool.announce("code.1"):
        pass  # failed: nothing offered
    assert pool.take_coming("code.1") is None
    with pool.announce("code.2"):
        assert pool.claim_coming("code.2", time.time() + COMING_AT_MOST_S + 1) is None
        assert pool.claim_coming("code.2", time.time()) is not None
