"""The scheduler's view of the store: what waits, and the atomic admission step."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis import Redis

from ironworks.lanes import (
    HEADS_PER_LANE,
    CodeLimits,
    LaneView,
    choose_lanes,
    code_of,
    is_keyed,
    lane_of,
)
from ironworks.model import Task, admission_score
from ironworks.runner_beats import run_queue
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts

LIMIT_FIELDS = json.dumps(CodeLimits.FIELDS)
# Lanes lane_views.lua reads in one call: a few milliseconds of Redis, as admit.lua's calls.
LANE_READS = 500


def _pairs(flat: list[str]) -> list[tuple[str, float]]:
    """A ZRANGE WITHSCORES reply, as redis-py's withscores gives it."""
    return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]


@dataclass(frozen=True)
class Admission:
    task_id: str
    attempt: int
    cluster: str
    priority: int = 0

    @property
    def run_queue(self) -> str:
        return run_queue(self.cluster, self.priority)


class AdmissionStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts) -> None:
        self._r, self._k, self._scripts = redis, keys, scripts

    def ready_projects(self) -> list[str]:
        """Projects with waiting work, the least recently served first."""
        projects = sorted(self._r.smembers(self._k.ready_projects()))
        turns = self._r.hmget(self._k.project_turns(), projects) if projects else []
        return [p for _, p in sorted(zip((float(t or 0) for t in turns), projects, strict=True))]

    def served(self, project_ids: Sequence[str], now: float) -> None:
        """The projects had tasks admitted: they go behind the others for the next round."""
        if project_ids:
            self._r.hset(self._k.project_turns(), mapping=dict.fromkeys(project_ids, now))

    def admit(
        self, project_id: str, dispatch_lease_s: float = 60, ahead: dict[str, int] | None = None
    ) -> list[Admission]:
        """Admit what the project's limits allow, from the lanes most due a turn.

        Each admitted task must be started by a runner within `dispatch_lease_s` or the
        reaper looks at it again. `ahead` bounds, per cluster, how many tasks may be admitted
        and not yet started (a cluster not named is unbounded).
        """
        return self.admit_many([project_id], dispatch_lease_s, ahead)[project_id]

    def admit_many(
        self,
        project_ids: Sequence[str],
        dispatch_lease_s: float = 60,
        ahead: dict[str, int] | None = None,
    ) -> dict[str, list[Admission]]:
        """`admit` for each project, in the order given: their reads in a few round trips for
        them all, then their scripts in one pipeline. Each script is one project's atomic
        step (it checks every limit itself, on Redis's data), so running them one after the
        other in a pipeline admits exactly what as many calls would."""
        ahead = ahead or {}
        views = self._lane_views(project_ids)
        expiry = time.time() + dispatch_lease_s
        chosen = {project_id: choose_lanes(views[project_id]) for project_id in project_ids}
        # A project whose every lane waits (no room, none empty) has nothing for its script
        # to do; one without lanes still runs it, to leave the ready set.
        asked = [p for p in project_ids if chosen[p] or not views[p]]
        with self._r.pipeline(transaction=False) as pipe:
            for project_id in asked:
                self._admit_on(pipe, project_id, chosen[project_id], expiry, ahead)
            replies = dict(zip(asked, pipe.execute(), strict=True))
        return {
            project_id: [
                Admission(flat[i], int(flat[i + 1]), flat[i + 2], int(flat[i + 3]))
                for i in range(0, len(flat), 4)
            ]
            for project_id in project_ids
            for flat in [replies.get(project_id, [])]
        }

    def _admit_on(
        self, pipe, project_id: str, lanes: list[LaneView], expiry: float, ahead: dict[str, int]
    ) -> None:
        k = self._k
        tail_keys = [k.dispatched(cluster) for cluster in ahead]
        tail_args: list[str | int | float] = [v for pair in ahead.items() for v in pair]
        for lane in lanes:
            code_id = code_of(lane.id)
            window = k.rate_window(lane.id if lane.code.rate_limit_per_key else code_id)
            tail_keys += [k.code(code_id), k.waiting(lane.id), k.code_active(code_id),
                          k.lane_active(lane.id), window]  # fmt: skip
            candidates = lane.candidates
            tail_args += [lane.id, "1" if is_keyed(lane.id) else "", len(candidates)]
            tail_args += [value for candidate in candidates for value in candidate]
        tail_keys += [k.task(task_id) for lane in lanes for task_id, _ in lane.candidates]
        self._scripts.admit(
            project=k.project(project_id),
            project_active=k.project_active(project_id),
            waiting_lanes=k.project_waiting_codes(project_id),
            ready_projects=k.ready_projects(),
            leases=k.leases(),
            lane_turns=k.lane_turns(project_id),
            task_seq=k.task_seq(),
            tail_keys=tail_keys,
            project_id=project_id,
            lease_expiry=expiry,
            lanes=len(lanes),
            clusters=len(ahead),
            tail_args=tail_args,
            client=pipe,
        )

    def _lane_views(self, project_ids: Sequence[str]) -> dict[str, list[LaneView]]:
        """Every waiting lane of each project with its heads, its turn and its code's limits:
        the lanes in one round trip, then what admission reads of them in a script for each
        LANE_READS of them (the script holds Redis while it reads)."""
        with self._r.pipeline(transaction=False) as pipe:
            for project_id in project_ids:
                pipe.smembers(self._k.project_waiting_codes(project_id))
            pairs = [(project_id, lane)
                     for project_id, lanes in zip(project_ids, pipe.execute(), strict=True)
                     for lane in sorted(lanes)]  # fmt: skip
        read: list[list] = []
        codes: dict[str, CodeLimits] = {}
        for at in range(0, len(pairs), LANE_READS):
            chunk = [value for pair in pairs[at : at + LANE_READS] for value in pair]
            lanes, codes_read = self._scripts.lane_views(
                heads=HEADS_PER_LANE, fields=LIMIT_FIELDS, lanes=chunk
            )
            read += lanes
            codes |= {code[0]: CodeLimits.read(code[2:], code[1]) for code in codes_read}
        views = [
            (project_id, LaneView(lane, _pairs(heads), turn, codes[code_of(lane)], active))
            for (project_id, lane), (turn, active, *heads) in zip(pairs, read, strict=True)
        ]
        counted = self._with_rate_windows([view for _, view in views])
        by_project: dict[str, list[LaneView]] = {project_id: [] for project_id in project_ids}
        for (project_id, _), view in zip(views, counted, strict=True):
            by_project[project_id].append(view)
        return by_project

    def _with_rate_windows(self, views: list[LaneView]) -> list[LaneView]:
        """The views of rate-limited lanes, with how many admissions their window holds."""
        limited = [v for v in views if v.code.rate_limit_count and v.code.rate_limit_period_s]
        if not limited:
            return views
        now = time.time()  # close to Redis's clock, which the script uses; only a first look
        with self._r.pipeline(transaction=False) as pipe:
            for view in limited:
                scope = view.id if view.code.rate_limit_per_key else code_of(view.id)
                since = now - (view.code.rate_limit_period_s or 0)
                pipe.zcount(self._k.rate_window(scope), since, "+inf")
            counted = dict(zip((v.id for v in limited), pipe.execute(), strict=True))
        return [
            dataclasses.replace(v, admitted_in_window=counted[v.id]) if v.id in counted else v
            for v in views
        ]

    def promote_due(self, now: float, limit: int = 500) -> int:
        """Move delayed tasks whose time has come onto their wait queues."""
        k = self._k
        due = self._r.zrangebyscore(k.delayed(), "-inf", now, start=0, num=limit)
        moved = 0
        for task_id in due:
            fields = ("code_id", "concurrency_key", "project_id", "priority", "seq")
            code_id, key, project_id, priority, seq = self._r.hmget(k.task(task_id), fields)
            if code_id is None:  # the record is gone; drop the dangling entry
                self._r.zrem(k.delayed(), task_id)
                continue
            lane = lane_of(code_id, key or None)
            moved += self._scripts.promote(
                delayed=k.delayed(),
                waiting=k.waiting(lane),
                waiting_lanes=k.project_waiting_codes(project_id),
                ready_projects=k.ready_projects(),
                task_id=task_id,
                score=admission_score(int(priority), int(seq)),
                lane=lane,
                project_id=project_id,
            )
        return moved

    def expired_leases(self, now: float, limit: int = 500) -> list[str]:
        return self._r.zrangebyscore(self._k.leases(), "-inf", now, start=0, num=limit)

    def extend_lease(self, task_id: str, until: float) -> None:
        """Only for a lease that exists: never resurrect one a finish has removed."""
        self._r.zadd(self._k.leases(), {task_id: until}, xx=True)

    def requeue(self, task: Task, now: float) -> bool:
        """Give an admitted task that no runner started back to admission, freeing its slot."""
        k = self._k
        return (
            self._scripts.requeue(
                task=k.task(task.id),
                leases=k.leases(),
                project_active=k.project_active(task.project_id),
                code_active=k.code_active(task.code_id),
                waiting=k.waiting(task.lane),
                waiting_lanes=k.project_waiting_codes(task.project_id),
                ready_projects=k.ready_projects(),
                wake=k.scheduler_wake(),
                lane_active=k.lane_active(task.lane),
                dispatched=k.dispatched(task.cluster),
                task_id=task.id,
                attempt=task.attempt,
                now=now,
                score=admission_score(task.priority, task.seq),
                lane=task.lane,
                project_id=task.project_id,
            )
            == 1
        )

    def forget_lease(self, task_id: str) -> None:
        """Drop a lease entry whose task record is gone."""
        self._r.zrem(self._k.leases(), task_id)

    def wait_for_work(self, timeout_s: float) -> None:
        """Block until something may be admissible (a task queued or a slot freed) or timeout.

        The wakes pushed meanwhile are taken with the first: each was pushed with (after) the
        writes it announces, so the one round that follows sees them all. Under a stream of
        POSTs the scheduler makes a round per wait, not one per task. One round trip: Redis
        holds the DEL until the BLPOP is answered (a wake that comes after a timeout and is
        deleted is seen all the same, by the round that follows any wait)."""
        wake = self._k.scheduler_wake()
        with self._r.pipeline(transaction=False) as pipe:
            pipe.blpop([wake], timeout=timeout_s)
            pipe.delete(wake)
            pipe.execute()
