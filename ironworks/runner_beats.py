"""Runners as the platform sees them: their heartbeats, their slots per cluster, and the
queues (one per cluster and priority) they take admitted tasks from. Pure, like model.py."""

from __future__ import annotations

from dataclasses import dataclass

from ironworks.model import PRIORITIES


def run_queue(cluster: str, priority: int) -> str:
    """The RQ queue an admitted task waits in for a runner's free slot: one per cluster and
    priority, so that when runners, not limits, are what tasks wait for, a higher priority
    still starts first. Priority 0 keeps the cluster's own name."""
    return cluster if priority == 0 else f"{cluster}:p{priority}"


def run_queues(clusters: list[str]) -> list[str]:
    """The queues a runner serving `clusters` takes jobs from, in the order it looks."""
    return [run_queue(c, p) for p in sorted(PRIORITIES, reverse=True) for c in clusters]


# A runner whose heartbeat is older than this many intervals counts as gone.
MISSED_BEATS = 3


def slots_by_cluster(beats: list[RunnerBeat], now: float, heartbeat_s: float) -> dict[str, int]:
    """The slots of the live runners that take new work, per cluster they serve."""
    slots: dict[str, int] = {}
    for beat in beats:
        if beat.is_alive(now, heartbeat_s) and not beat.draining:
            for cluster in beat.clusters.split(","):
                slots[cluster] = slots.get(cluster, 0) + beat.slots
    return slots


@dataclass(frozen=True)
class RunnerBeat:
    """What a runner says of itself at each heartbeat."""

    id: str
    host: str
    slots: int
    busy: int
    clusters: str
    started_at: float
    last_seen: float
    draining: bool = False

    def is_alive(self, now: float, heartbeat_s: float) -> bool:
        return now - self.last_seen <= MISSED_BEATS * heartbeat_s
