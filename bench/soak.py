"""Redis memory across a soak of ended tasks with retention on (#15): `python -m bench.soak`.

Drives the platform's own store paths (queue, admit, start, log, finish, the consumers, the
retention sweep) against a real redis-server, with no Docker: what is measured is what the
tasks leave in Redis, not how fast containers run. Appends its rows to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from redis import Redis

from bench.harness import redis_server
from ironworks.model import Code, Project, TaskStatus, new_id, new_task
from ironworks.store import Store
from scheduler.admission import run_round
from scheduler.consumers import CONSUMERS, consume_once

RESULTS = Path(__file__).with_name("RESULTS.md")
RETENTION_S = 60  # short: every task ended in a round is past it one "minute" later


class _NoDispatch:
    def dispatch(self, admission) -> None:  # runners are not part of this measurement
        pass


def soak(store: Store, tasks: int, per_round: int) -> list[tuple[int, int, int]]:
    """(tasks so far, used_memory, keys) after each round has ended and expired."""
    project = Project(new_id(), "soak", None, time.time(), task_retention_s=RETENTION_S)
    store.projects.create(project, new_id())
    code = store.codes.add_revision(Code(
        id="", project_id=project.id, name="w", rev=0, stack="sh", command="true",
        archive_sha256="", archive_size=0, created_at=time.time()))  # fmt: skip
    samples, done, clock = [], 0, time.time()
    while done < tasks:
        batch = [
            new_task(code, new_id(), f'{{"n": {done + i}}}', clock, timeout=60)
            for i in range(per_round)
        ]
        store.tasks.enqueue(batch, clock)
        while run_round(store, _NoDispatch(), 60):
            pass
        for task in batch:
            current = store.tasks.get(task.id)
            store.tasks.start(current, current.attempt, "soak", clock, 60)
            store.tasks.append_log(task.id, current.attempt, "output line\n" * 20, 10_000)
            store.tasks.finish(current, current.attempt, TaskStatus.COMPLETE, now=clock,
                               exit_code=0, result='{"ok": true}')  # fmt: skip
        for group, handler in CONSUMERS.items():
            store.events.ensure_group(group)
            while consume_once(store, group, "soak", handler, block_ms=None):
                pass
        clock += RETENTION_S + 1  # the round's tasks are now past their retention
        while store.retention.expire_due(clock):
            pass
        store.retention.trim_events()
        done += per_round
        samples.append((done, store.redis.info("memory")["used_memory"], store.redis.dbsize()))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--per-round", type=int, default=1_000)
    args = parser.parse_args()
    with redis_server() as url:
        store = Store.for_redis(Redis.from_url(url, decode_responses=True))
        before = store.redis.info("memory")["used_memory"]
        samples = soak(store, args.tasks, args.per_round)
    first, last = samples[0], samples[-1]
    rows = [
        "",
        f"## Redis memory across a soak with retention on ({args.tasks} tasks)",
        "",
        f"`python -m bench.soak --tasks {args.tasks}`; retention {RETENTION_S} s, rounds of "
        f"{args.per_round}; each task: a payload, a 240-byte log, a result, its events.",
        "",
        "| after | used_memory | keys |",
        "|---|---|---|",
        f"| empty Redis | {before / 1e6:.2f} MB | 0 |",
        f"| first round ({first[0]} tasks) ended and expired | {first[1] / 1e6:.2f} MB "
        f"| {first[2]} |",
        f"| all {last[0]} tasks, ended and expired | {last[1] / 1e6:.2f} MB | {last[2]} |",
        f"| highest after any round | {max(s[1] for s in samples) / 1e6:.2f} MB | "
        f"{max(s[2] for s in samples)} |",
    ]
    with RESULTS.open("a") as out:
        out.write("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
