"""Runner heartbeats: who is serving, where, with how many slots busy, and when last seen."""

from __future__ import annotations

from redis import Redis

from ironworks.codec import from_hash, to_hash
from ironworks.runner_beats import RunnerBeat
from ironworks.store.keys import Keys

# A runner not heard of for this long is forgotten.
FORGET_AFTER_S = 24 * 3600


class RunnerStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r, self._k = redis, keys

    def beat(self, beat: RunnerBeat) -> None:
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self._k.runner(beat.id), mapping=to_hash(beat))
            pipe.expire(self._k.runner(beat.id), FORGET_AFTER_S)
            pipe.zadd(self._k.runners(), {beat.id: beat.last_seen})
            pipe.zremrangebyscore(self._k.runners(), "-inf", beat.last_seen - FORGET_AFTER_S)
            pipe.execute()

    def list(self) -> list[RunnerBeat]:
        """Most recently seen first."""
        ids = self._r.zrevrange(self._k.runners(), 0, -1)
        with self._r.pipeline(transaction=False) as pipe:
            for runner_id in ids:
                pipe.hgetall(self._k.runner(runner_id))
            return [from_hash(RunnerBeat, raw) for raw in pipe.execute() if raw]
