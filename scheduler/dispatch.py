"""Hands admitted tasks to runners as RQ jobs, one queue per cluster."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import now, utcformat

from ironworks import redisconn
from ironworks.settings import Settings
from ironworks.store.admission import Admission

# By name, so the scheduler never imports the runner.
RUN_TASK = "runner.job.run_task"
# A job RQ marked started is about to start its task; one that stayed so longer than this
# while the task is still queued belongs to a worker that died in between.
STARTED_GRACE_S = 30
# RQ's own timeout is only a backstop: the runner enforces each task's timeout itself.
BACKSTOP_MARGIN_S = 300


# The fields of a new job that RQ writes empty.
UNSET_FIELDS = (
    "success_callback_name", "failure_callback_name", "stopped_callback_name", "started_at",
    "ended_at", "last_heartbeat", "worker_name", "group_id",
)  # fmt: skip
# Writes RQ jobs as RQ's enqueue_many writes them (tests/test_delivery.py compares the two),
# without RQ's Python objects for each job: those were half of admission's time. One call
# writes a queue's jobs: the fields all jobs share once, then each job's id and own fields.
ENQUEUE_JOBS = """
local queue, prefix = KEYS[2], ARGV[1]
local shared, own = tonumber(ARGV[2]), tonumber(ARGV[3])
local fields = {}
for i = 1, shared do fields[i] = ARGV[3 + i] end
local ids = {}
for at = 4 + shared, #ARGV, own + 1 do
  for i = 1, own do fields[shared + i] = ARGV[at + i] end
  redis.call('HSET', prefix .. ARGV[at], unpack(fields))
  ids[#ids + 1] = ARGV[at]
end
redis.call('SADD', KEYS[1], queue)
for i = 1, #ids, 1000 do
  redis.call('RPUSH', queue, unpack(ids, i, math.min(i + 999, #ids)))
end
"""


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        self._redis = redisconn.connect(settings.redis_url)  # RQ stores bytes: its own
        self._job_timeout = settings.max_timeout_s + BACKSTOP_MARGIN_S
        self._queues: dict[str, Queue] = {}
        self._enqueue = self._redis.register_script(ENQUEUE_JOBS)

    def _queue(self, name: str) -> Queue:
        if name not in self._queues:
            # JSON, not RQ's default pickle: a job in Redis must never be code to run (the
            # runner also runs only RUN_TASK, see runner/job.py).
            self._queues[name] = Queue(name, connection=self._redis, serializer=JSONSerializer)
        return self._queues[name]

    def dispatch(self, admission: Admission) -> None:
        self.dispatch_many([admission])

    def dispatch_many(self, admissions: Sequence[Admission]) -> None:
        """One RQ job per admitted task, a call per queue, all in one pipeline."""
        if not admissions:
            return
        by_queue: dict[str, list[Admission]] = defaultdict(list)
        for admission in admissions:
            by_queue[admission.run_queue].append(admission)
        at = utcformat(now())
        with self._redis.pipeline() as pipe:
            for name, queued in by_queue.items():
                queue = self._queue(name)
                shared = self._shared_fields(name, at)
                args: list = [Job.redis_job_namespace_prefix, len(shared), OWN_ITEMS, *shared]
                for a in queued:
                    # One job per attempt: a repeated dispatch of the same attempt is refused
                    # by the runner's fenced start, so a duplicate can never run the task twice.
                    args += [job_id(a.task_id, a.attempt), *_own_fields(a.task_id, a.attempt)]
                self._enqueue(keys=[queue.redis_queues_keys, queue.key], args=args, client=pipe)
            pipe.execute()

    def _shared_fields(self, queue: str, at: str) -> list:
        """The fields of RQ's hash for a RUN_TASK job that every job of `queue` has alike."""
        fields = {
            "status": JobStatus.QUEUED.value,
            "created_at": at,
            **dict.fromkeys(UNSET_FIELDS, ""),
            "origin": queue,
            "enqueued_at": at,
            "timeout": self._job_timeout,
            "result_ttl": 0,
            "failure_ttl": 24 * 3600,
        }
        return [item for pair in fields.items() for item in pair]

    def is_waiting(self, task_id: str, attempt: int, queue: str) -> bool:
        """Whether the job for this attempt may still start its (still queued) task: it waits
        in its queue for a free runner, or a worker has just taken it.

        A job RQ says is queued but that is not in the queue was taken by a worker that died
        before marking it started; one started long ago by a worker that died since never
        will start the task. Both are lost.
        """
        the_id = job_id(task_id, attempt)
        try:
            job = Job.fetch(the_id, connection=self._redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return False
        status = job.get_status(refresh=False)
        if status is JobStatus.QUEUED:
            return self._queue(queue).get_job_position(the_id) is not None
        if status is JobStatus.STARTED and job.started_at is not None:
            started_s_ago = (datetime.now(UTC) - job.started_at).total_seconds()
            return started_s_ago < STARTED_GRACE_S
        return False


def job_id(task_id: str, attempt: int) -> str:
    return f"{task_id}-{attempt}"


OWN_ITEMS = 4  # _own_fields' length


def _own_fields(task_id: str, attempt: int) -> tuple[str, bytes, str, str]:
    """A job's own fields in RQ's hash: its call, serialized as RQ does, and its description."""
    call = JSONSerializer.dumps([RUN_TASK, None, [task_id, attempt], {}])
    return ("data", zlib.compress(call), "description", f"{RUN_TASK}({task_id!r}, {attempt!r})")
