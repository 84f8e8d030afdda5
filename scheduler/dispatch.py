"""Hands admitted tasks to runners as RQ jobs, one queue per cluster."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

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


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        self._redis = redisconn.connect(settings.redis_url)  # RQ stores bytes: its own
        self._job_timeout = settings.max_timeout_s + BACKSTOP_MARGIN_S
        self._queues: dict[str, Queue] = {}

    def _queue(self, name: str) -> Queue:
        if name not in self._queues:
            # JSON, not RQ's default pickle: a job in Redis must never be code to run (the
            # runner also runs only RUN_TASK, see runner/job.py).
            self._queues[name] = Queue(name, connection=self._redis, serializer=JSONSerializer)
        return self._queues[name]

    def dispatch(self, admission: Admission) -> None:
        self.dispatch_many([admission])

    def dispatch_many(self, admissions: Sequence[Admission]) -> None:
        """One RQ job per admitted task, all in one pipeline (RQ's enqueue_many)."""
        if not admissions:
            return
        by_queue: dict[str, list[Admission]] = defaultdict(list)
        for admission in admissions:
            by_queue[admission.run_queue].append(admission)
        with self._redis.pipeline() as pipe:
            for name, queued in by_queue.items():
                self._queue(name).enqueue_many([self._job_data(a) for a in queued], pipeline=pipe)
            pipe.execute()

    def _job_data(self, admission: Admission):
        return Queue.prepare_data(
            RUN_TASK,
            args=(admission.task_id, admission.attempt),
            # One job per attempt: a repeated dispatch of the same attempt is refused by the
            # runner's fenced start, so a duplicate can never run the task twice.
            job_id=job_id(admission.task_id, admission.attempt),
            timeout=self._job_timeout,
            result_ttl=0,
            failure_ttl=24 * 3600,
        )

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
