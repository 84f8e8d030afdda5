"""Warm start on the real platform: a pool hit, a task that cannot tell warm from cold,
single use, pools that follow revisions and empty when idle, the opt-out, waiting containers
replaced when stale or dead, the memory budget and who gets it, and a stopped runner that
leaves no container behind."""

from __future__ import annotations

import re
import time

import pytest

from runner.spec import CLAIMED_NAME, LABEL_FRESH_UNTIL, LABEL_RUNNER, LABEL_TASK, LABEL_WARM
from tests.harness import WAIT_S, Platform, fresh_database, wait_until, zip_files

# Longer than a loaded engine takes to make a pool's container (over 20 s once in CI): a pool
# made later than this after its code's last task would be retired as idle before a test
# could use it.
IDLE_S = 30
FRESH_S = 10  # the freshness limit of the test that waits for a container to go stale
# What a worker can see of its surroundings.
PROBE = r"""
echo "args=$*"; env | sort; id; pwd; ulimit -n; cat /proc/1/cmdline | tr '\0' ' '; echo
ls -ln /mnt/task | sed 1d; cat "$PAYLOAD_FILE"; echo
(read x && echo "stdin=$x") || echo "stdin=eof"
"""


@pytest.fixture(scope="module")
def warm_platform(redis_server, tmp_path_factory):
    platform = Platform(fresh_database(redis_server), tmp_path_factory.mktemp("warm"),
                        warm_start="1", warm_idle_s=str(IDLE_S))  # fmt: skip
    yield platform.start_all()
    platform.stop()


@pytest.fixture
def tight_platform(request, redis_server, tmp_path_factory):
    """128 MB of memory limits for all pools. One per test: the budget is shared by every
    pool, so no test inherits another's. Waiting containers stay fresh for 5 minutes, or as
    long as the test says (parametrize it indirectly with the seconds)."""
    fresh_s = getattr(request, "param", 300)
    platform = Platform(fresh_database(redis_server), tmp_path_factory.mktemp("tight"),
                        warm_start="1", warm_fresh_s=str(fresh_s), warm_memory_mb="128",
                        warm_idle_s="60")  # fmt: skip
    yield platform.start_all()
    platform.stop()


# Waits for a pool's container to be made take the harness's bound (WAIT_S): the engine makes
# it, and a loaded engine took over 10 s in CI. They bound a failing test; they assert no time.
def waiting(engine, platform, key: str | None = None) -> list[dict]:
    """Prestarted containers of this runner that have no task yet."""
    warm = LABEL_WARM if key is None else f"{LABEL_WARM}={key}"
    found = engine.api.containers(filters={"label": [f"{LABEL_RUNNER}={platform.runner_id}", warm]})
    return [
        c for c in found
        if LABEL_TASK not in c["Labels"] and not CLAIMED_NAME.fullmatch(c["Names"][0][1:])
    ]  # fmt: skip


def upload(project, name: str, script: str, **fields) -> dict:
    data = {"name": name, "stack": "sh", "command": "sh run.sh", **fields}
    return project.upload_code(zip_files({"run.sh": script}), data)


def test_a_prestarted_container_runs_the_next_task_once(warm_platform, engine):
    project = warm_platform.new_project("hit")
    code = upload(project, "hello", "echo hello")
    first = project.wait(project.queue("hello"), timeout_s=60)
    assert first["usage"]["warm"] == 0.0  # a miss: nothing was waiting yet
    key = f"{code['id']}.{code['rev']}"
    pool = wait_until(lambda: waiting(engine, warm_platform, key), what="a pool")

    second = project.wait(project.queue("hello"), timeout_s=60)
    assert (second["status"], second["usage"]["warm"]) == ("complete", 1.0)
    assert project.log(second["id"]) == "hello\n"
    still_there = {c["Id"] for c in waiting(engine, warm_platform, key)}
    assert {c["Id"] for c in pool} - still_there, "the container that ran the task is gone"


def test_a_worker_cannot_tell_a_warm_start_from_a_cold_one(warm_platform, engine):
    project = warm_platform.new_project("same")
    warm_code = upload(project, "probe", PROBE, env_vars={"GREETING": "hi"})
    upload(project, "probe-cold", PROBE, env_vars={"GREETING": "hi"}, warm=False)
    project.wait(project.queue("probe", "p"), timeout_s=60)
    key = f"{warm_code['id']}.{warm_code['rev']}"
    wait_until(lambda: waiting(engine, warm_platform, key), what="a pool")

    warm = project.wait(project.queue("probe", "p"), timeout_s=60)
    cold = project.wait(project.queue("probe-cold", "p"), timeout_s=60)
    assert warm["usage"]["warm"] == 1.0 and "warm" not in cold["usage"]

    def seen(task: dict) -> str:
        text = project.log(task["id"]).replace(task["id"], "<task>")
        text = re.sub(r"\w{3} +\d+ \d\d:\d\d ", "<mtime> ", text)  # the two may straddle a minute
        return re.sub(r"HOSTNAME=\w+", "HOSTNAME=<host>", text)

    assert seen(warm) == seen(cold)
    assert "GREETING=hi" in seen(warm) and "stdin=eof" in seen(warm)


def test_pools_follow_the_current_revision_and_empty_when_idle(warm_platform, engine):
    project = warm_platform.new_project("revisions")
    old = upload(project, "job", "echo one")
    project.wait(project.queue("job"), timeout_s=60)
    old_key = f"{old['id']}.{old['rev']}"
    wait_until(lambda: waiting(engine, warm_platform, old_key), what="a pool")

    new = upload(project, "job", "echo two")
    wait_until(lambda: f"retired a waiting container of {old_key} (old revision)"
               in warm_platform.log_text(), what="the old revision's pool retired")  # fmt: skip
    assert not waiting(engine, warm_platform, old_key)
    task = project.wait(project.queue("job"), timeout_s=60)
    assert project.log(task["id"]) == "two\n"
    new_key = f"{new['id']}.{new['rev']}"
    wait_until(lambda: waiting(engine, warm_platform, new_key), what="a new pool")
    wait_until(lambda: not waiting(engine, warm_platform), timeout_s=IDLE_S + WAIT_S,
               what="every pool emptied once idle")  # fmt: skip


def test_a_code_that_opts_out_never_gets_a_pool(warm_platform, engine):
    project = warm_platform.new_project("opt-out")
    code = upload(project, "cold", "echo cold", warm=False)
    for _ in range(2):
        task = project.wait(project.queue("cold"), timeout_s=60)
        assert task["status"] == "complete" and "warm" not in task["usage"]
    assert not waiting(engine, warm_platform, f"{code['id']}.{code['rev']}")


@pytest.mark.parametrize("tight_platform", [FRESH_S], indirect=True)
def test_a_waiting_container_is_replaced_when_stale_and_when_dead(tight_platform, engine):
    project = tight_platform.new_project("replaced")
    code = upload(project, "job", "echo job", memory=64)
    project.wait(project.queue("job"), timeout_s=60)
    key = f"{code['id']}.{code['rev']}"
    # The waits below for a container to be made are bounds on the engine, not assertions
    # (the harness's WAIT_S on top of the freshness): a loaded engine took over 20 s in CI.
    (stale,) = wait_until(lambda: waiting(engine, tight_platform, key), what="a pool of one")

    def replacing(old: dict) -> list[dict]:
        return [c for c in waiting(engine, tight_platform, key) if c["Id"] != old["Id"]]

    (fresh,) = wait_until(lambda: replacing(stale), timeout_s=FRESH_S + WAIT_S,
                          what="stale replaced")  # fmt: skip
    assert time.time() >= float(stale["Labels"][LABEL_FRESH_UNTIL])
    assert not engine.api.containers(all=True, filters={"id": stale["Id"]})

    # In the pool, not only running: the engine lists it running before the call that
    # started it returns, and the warmer offers it to slots only then.
    made = f"made a waiting container of {key}: {fresh['Id'][:12]}"
    wait_until(lambda: made in tight_platform.log_text(), what="the replacement in the pool")
    engine.api.kill(fresh["Id"])
    killed_at = time.strftime("%H:%M:%S")
    # Seen dead at a check (every 2 s), and said so: not left to go stale. Said once the
    # engine has removed it, which a loaded engine took over 10 s to do in CI.
    said = f"retired a waiting container of {key} (died)"
    try:
        wait_until(lambda: said in tight_platform.log_text(), what="the dead one retired as dead")
    except AssertionError as e:  # what the engine says of it, and what the runner did
        state = engine.api.containers(all=True, filters={"id": fresh["Id"]})
        log = [line for line in tight_platform.log_text().splitlines() if 'HTTP/1.1"' not in line]
        raise AssertionError("\n".join([str(e), f"killed {fresh['Id'][:12]} at {killed_at}:"
                                         f" {state}", *log[-40:]])) from e  # fmt: skip
    assert not engine.api.containers(all=True, filters={"id": fresh["Id"]}), "and removed"
    wait_until(lambda: replacing(fresh), timeout_s=FRESH_S + WAIT_S, what="the dead one replaced")
    task = project.wait(project.queue("job"), timeout_s=60)
    assert (task["status"], task["usage"]["warm"]) == ("complete", 1.0)


def test_pools_stay_within_the_memory_budget(tight_platform, engine):
    project = tight_platform.new_project("budget")
    upload(project, "job", "echo job", memory=64)
    for _ in range(5):  # demand for a pool of 4 (warm_max_per_code)
        project.wait(project.queue("job"), timeout_s=60)
    seen = []  # every pool of the runner: all its codes have 64 MB, so room for 2 in all
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        seen.append(len(waiting(engine, tight_platform)))
        time.sleep(0.1)
    assert max(seen) == 2, seen


def test_a_busier_code_takes_the_budget_from_a_quieter_one(tight_platform, engine):
    project = tight_platform.new_project("rivals")
    quiet = upload(project, "quiet", "echo quiet", memory=64)
    busy = upload(project, "busy", "echo busy", memory=64)
    quiet_key, busy_key = (f"{c['id']}.{c['rev']}" for c in (quiet, busy))
    project.wait(project.queue("quiet"), timeout_s=60)
    (held,) = wait_until(lambda: waiting(engine, tight_platform, quiet_key),
                         what="the quiet code's pool")  # fmt: skip

    for _ in range(5):  # five times as busy: the budget (room for 2) goes to it
        project.wait(project.queue("busy"), timeout_s=60)
    wait_until(
        lambda: len(waiting(engine, tight_platform, busy_key)) == 2
        and not waiting(engine, tight_platform, quiet_key),
        what="the busy code's pool to take the whole budget",
    )  # fmt: skip
    assert time.time() < float(held["Labels"][LABEL_FRESH_UNTIL]), "taken, not gone stale"


def test_a_stopped_runner_leaves_no_prestarted_container(redis_server, tmp_path, engine):
    platform = Platform(fresh_database(redis_server), tmp_path, warm_start="1").start_all()
    try:
        project = platform.new_project("stop")
        upload(project, "busy", "echo busy")
        for _ in range(3):  # demand enough for a pool of several, some still being made
            project.wait(project.queue("busy"), timeout_s=60)
        wait_until(lambda: waiting(engine, platform), what="a pool")
    finally:
        platform.stop()  # SIGTERM to the runner's group, then the runner's own to its warmer
    left = engine.api.containers(
        all=True, filters={"label": f"{LABEL_RUNNER}={platform.runner_id}"}
    )
    assert not left, [c["Names"] for c in left]
