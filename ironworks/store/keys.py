"""Every Redis key Ironworks uses, under one configurable prefix. No key is built elsewhere."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "iw"

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def lua_builders(self) -> str:
        """Lua functions building the keys scripts derive from an id, for their prelude:
        `task_key(id)` is `task(id)`, and so on."""
        builders = {
            "task_key": self.task, "code_key": self.code, "code_active_key": self.code_active,
            "waiting_key": self.waiting, "lane_active_key": self.lane_active,
            "lane_turns_key": self.lane_turns,
        }  # fmt: skip
        lines = []
        for name, build in builders.items():
            head, _, tail = build("\0").partition("\0")
            lines.append(f"local function {name}(id) return '{head}' .. id .. '{tail}' end")
        return "\n".join(lines)

    def instance(self) -> str:
        """This installation's id: labels its containers so hosts shared by several
        installations never touch each other's."""
        return self._k("instance")

    def session_secret(self) -> str:
        return self._k("session_secret")

    # projects and auth
    def project(self, project_id: str) -> str:
        return self._k("project", project_id)

    def projects(self) -> str:
        return self._k("projects")

    def token(self, token_hash: str) -> str:
        """A project token's hash → the project id."""
        return self._k("token", token_hash)

    def project_token(self, project_id: str) -> str:
        """The hash of the project's current token, so that rotating it revokes the old one."""
        return self._k("project", project_id, "token")

    def hook_token(self, token_hash: str) -> str:
        """An inbound webhook token's hash → "project_id code_id": it queues that code only."""
        return self._k("hook_token", token_hash)

    def code_hook_token(self, code_id: str) -> str:
        return self._k("code", code_id, "hook_token")

    def project_secrets(self, project_id: str) -> str:
        """Hash secret name -> its sealed value (ironworks/secrets.py), never plain text."""
        return self._k("project", project_id, "secrets")

    def project_secrets_updated(self, project_id: str) -> str:
        """Hash secret name -> when it was last set (epoch s)."""
        return self._k("project", project_id, "secrets_updated")

    def project_egress(self, project_id: str) -> str:
        """JSON list of the project's egress grants ('CIDR:PORT'), set by the operator."""
        return self._k("project", project_id, "egress")

    def project_audit(self, project_id: str) -> str:
        """Stream of the project's secret and egress changes (names, never values)."""
        return self._k("project", project_id, "audit")

    def audit(self) -> str:
        """The same entries, every project's, for the admin."""
        return self._k("audit")

    # codes
    def code(self, code_id: str) -> str:
        """Hash of the code's current revision (what new tasks pin)."""
        return self._k("code", code_id)

    def code_revision(self, code_id: str, rev: int) -> str:
        return self._k("code", code_id, "rev", str(rev))

    def blob_refs(self) -> str:
        """Hash archive sha256 -> how many kept revisions use it (archives are shared by
        content, across codes and projects)."""
        return self._k("blob_refs")

    def code_names(self, project_id: str) -> str:
        """Hash name -> code id for one project."""
        return self._k("project", project_id, "codes")

    # tasks and their indexes
    def task(self, task_id: str) -> str:
        return self._k("task", task_id)

    def task_log(self, task_id: str) -> str:
        return self._k("task", task_id, "log")

    def task_ended(self, task_id: str) -> str:
        """Pub/sub channel, not a key: finish.lua publishes the task's new status on it."""
        return self._k("task", task_id, "ended")

    def idempotency(self, project_id: str, key: str) -> str:
        """String: the task a project's idempotency key names, until the key's TTL. The key is
        the tenant's text, so it is stored as its hash (bounded, no separators)."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self._k("project", project_id, "idempotency", digest)

    def waits_on(self, task_id: str) -> str:
        """Set of the dependencies a task still waits for (depends_on, less the complete)."""
        return self._k("task", task_id, "waits_on")

    def children(self, task_id: str) -> str:
        """Set of the tasks this one queued from inside its container (fan-out)."""
        return self._k("task", task_id, "children")

    def task_token(self, token_hash: str) -> str:
        """A running task's API credential (held by its runner, never by the task): its
        task id and attempt, until the attempt ends."""
        return self._k("task_token", token_hash)

    def dependents(self, task_id: str) -> str:
        """Set of the tasks that depend on this one (kept for the links both ways)."""
        return self._k("task", task_id, "dependents")

    def task_seq(self) -> str:
        return self._k("seq", "task")

    def project_tasks(self, project_id: str) -> str:
        """Sorted set of all of a project's tasks, by arrival (seq)."""
        return self._k("project", project_id, "tasks")

    def project_status(self, project_id: str, status: str) -> str:
        """Sorted set of a project's tasks in one status, by arrival (seq)."""
        return self._k("project", project_id, "status", status)

    def code_tasks(self, code_id: str) -> str:
        return self._k("code", code_id, "tasks")

    # admission
    def waiting(self, lane: str) -> str:
        """Sorted set of a lane's tasks waiting for admission, by admission_score. A lane is
        a code, or one concurrency key of a code (ironworks/lanes.py)."""
        return self._k("code", lane, "waiting")

    def project_waiting_codes(self, project_id: str) -> str:
        """Set of the project's lanes that have tasks waiting."""
        return self._k("project", project_id, "waiting_codes")

    def lane_active(self, lane: str) -> str:
        """Set of a lane's tasks holding a slot: the code's own active set for a code's lane."""
        return self._k("code", lane, "active")

    def lane_turns(self, project_id: str) -> str:
        """Hash keyed lane -> one past the task seq when admission last served it: a lane
        served goes behind every task queued by then, so keyed lanes are served in turn."""
        return self._k("project", project_id, "lane_turns")

    def rate_window(self, scope: str) -> str:
        """Sorted set of the admissions of a code (or a keyed lane) in its rate limit's
        window, scored by when (Redis's clock)."""
        return self._k("code", scope, "admitted")

    def ready_projects(self) -> str:
        """Projects that may have waiting tasks: the scheduler's work index."""
        return self._k("ready_projects")

    def project_turns(self) -> str:
        """Hash project id -> when admission last admitted any of its tasks (epoch s): the
        least recently served project goes first."""
        return self._k("project_turns")

    def delayed(self) -> str:
        """Sorted set of delayed tasks by the time they become due."""
        return self._k("delayed")

    def project_active(self, project_id: str) -> str:
        """Set of a project's tasks holding a concurrency slot (admitted, not yet finished)."""
        return self._k("project", project_id, "active")

    def code_active(self, code_id: str) -> str:
        return self._k("code", code_id, "active")

    def dispatched(self, cluster: str) -> str:
        """Set of a cluster's tasks admitted and not yet started: what waits in its RQ
        queues for a runner's free slot (admission keeps it to the cluster's slots)."""
        return self._k("cluster", cluster, "dispatched")

    def replication_mark(self) -> str:
        """A counter written only to make a write WAIT can count (Store.replicated)."""
        return self._k("replication-mark")

    def leases(self) -> str:
        """Sorted set of admitted and running tasks by the time their lease runs out."""
        return self._k("leases")

    def code_stats(self, code_id: str) -> str:
        """Hash status -> number of the code's tasks currently in that status."""
        return self._k("code", code_id, "stats")

    def code_stats_seen(self, code_id: str) -> str:
        """Hash task id -> the status the stats last counted it in (makes counting idempotent)."""
        return self._k("code", code_id, "stats_seen")

    def scheduler_wake(self) -> str:
        """List pushed to whenever admission may make progress."""
        return self._k("scheduler", "wake")

    def expiring(self) -> str:
        """Sorted set of ended things ("task:<id>", "batch:<id>") by when retention ends."""
        return self._k("expiring")

    # batches
    def batch(self, batch_id: str) -> str:
        return self._k("batch", batch_id)

    def project_batches(self, project_id: str) -> str:
        """Sorted set of a project's batches by creation time."""
        return self._k("project", project_id, "batches")

    def batch_items(self, batch_id: str) -> str:
        """Hash item index -> the id of the item's latest task (a retry replaces it)."""
        return self._k("batch", batch_id, "items")

    def batch_counts(self, batch_id: str) -> str:
        """Hash status -> number of items whose latest task is in that status."""
        return self._k("batch", batch_id, "counts")

    def batch_seen(self, batch_id: str) -> str:
        """Hash item index -> what the counts last counted for it (makes counting idempotent)."""
        return self._k("batch", batch_id, "seen")

    def batch_held(self, batch_id: str) -> str:
        """Sorted set of items kept from admission by the batch's max_concurrency, by
        admission score; one is released each time an item ends."""
        return self._k("batch", batch_id, "held")

    # schedules
    def schedule(self, schedule_id: str) -> str:
        return self._k("schedule", schedule_id)

    def project_schedules(self, project_id: str) -> str:
        return self._k("project", project_id, "schedules")

    def due_schedules(self) -> str:
        """Sorted set of scheduled schedules by their next due time."""
        return self._k("schedules", "due")

    # outbound webhooks
    def webhook(self, hook_id: str) -> str:
        return self._k("webhook", hook_id)

    def project_webhooks(self, project_id: str) -> str:
        return self._k("project", project_id, "webhooks")

    def delivery(self, delivery_id: str) -> str:
        return self._k("delivery", delivery_id)

    def delivery_attempts(self, delivery_id: str) -> str:
        """List of JSON records, one per attempt."""
        return self._k("delivery", delivery_id, "attempts")

    def hook_deliveries(self, hook_id: str) -> str:
        return self._k("webhook", hook_id, "deliveries")

    def due_deliveries(self) -> str:
        return self._k("deliveries", "due")

    # recent activity, for the dashboard's charts
    def project_minute(self, project_id: str, minute: int) -> str:
        """Hash end status -> tasks that ended in that minute (epoch minute); expires."""
        return self._k("project", project_id, "ended", str(minute))

    def code_durations(self, code_id: str) -> str:
        """List of the run times (s) of the code's latest ended tasks, newest first, capped."""
        return self._k("code", code_id, "durations")

    # runners
    def runner(self, runner_id: str) -> str:
        """Hash: the runner's last heartbeat (host, slots, busy, ...)."""
        return self._k("runner", runner_id)

    def runners(self) -> str:
        """Sorted set of runner ids by the time of their last heartbeat."""
        return self._k("runners")

    # events (the outbox)
    def events(self) -> str:
        return self._k("events")
