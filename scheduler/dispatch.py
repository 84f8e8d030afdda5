"""Hands admitted tasks to runners as RQ jobs, one queue per cluster."""

from __future__ import annotations

from datetime import UTC, datetime

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from ironworks.settings import Settings
from ironworks.store.admission import Admission

# By name, so the scheduler never imports the runner.
RUN_TASK = "runner.job.run_task"
# A job in one of these may still reach a runner.
WAITING = frozenset({JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED})
# A job RQ marked started is about to start its task; one that stayed so longer than this
# while the task is still queued belongs to a worker that died in between.
STARTED_GRACE_S = 30
# RQ's own timeout is only a backstop: the runner enforces each task's timeout itself.
BACKSTOP_MARGIN_S = 300


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        self._redis = Redis.from_url(settings.redis_url)  # RQ stores bytes: its own connection
        self._job_timeout = settings.max_timeout_s + BACKSTOP_MARGIN_S
        self._queues: dict[str, Queue] = {}

    def dispatch(self, admission: Admission) -> None:
        queue = self._queues.get(admission.cluster)
        if queue is None:
            queue = self._queues[admission.cluster] = Queue(
                admission.cluster, connection=self._redis
            )
        queue.enqueue_call(
            RUN_TASK,
            args=(admission.task_id, admission.attempt),
            # One job per attempt: a repeated dispatch of the same attempt is refused by the
            # runner's fenced start, so a duplicate can never run the task twice.
            job_id=job_id(admission.task_id, admission.attempt),
            timeout=self._job_timeout,
            result_ttl=0,
            failure_ttl=24 * 3600,
        )

    def is_waiting(self, task_id: str, attempt: int) -> bool:
        """Whether the job for this attempt may still start its (still queued) task."""
        try:
            job = Job.fetch(job_id(task_id, attempt), connection=self._redis)
        except NoSuchJobError:
            return False
        status = job.get_status(refresh=False)
        if status is JobStatus.STARTED and job.started_at is not None:
            started_s_ago = (datetime.now(UTC) - job.started_at).total_seconds()
            return started_s_ago < STARTED_GRACE_S
        return status in WAITING


def job_id(task_id: str, attempt: int) -> str:
    return f"{task_id}-{attempt}"
