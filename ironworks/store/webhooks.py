"""Outbound webhooks, their deliveries and each delivery's attempts."""

from __future__ import annotations

import json

from redis import Redis, WatchError

from ironworks.codec import from_hash, to_hash
from ironworks.errors import DecodeError, NotFound
from ironworks.store.keys import Keys
from ironworks.store.scripts import Scripts
from ironworks.webhooks import Delivery, Webhook

# A deliverer that took a delivery and died leaves it to others after this long.
CLAIM_S = 60
# Each hook keeps its newest deliveries (what GET …/deliveries shows), older ones go.
DELIVERIES_KEPT = 100


class WebhookStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts) -> None:
        self._r, self._k, self._scripts = redis, keys, scripts

    # -- hooks ------------------------------------------------------------------------------
    def create(self, hook: Webhook) -> None:
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self._k.webhook(hook.id), mapping=to_hash(hook))
            pipe.zadd(self._k.project_webhooks(hook.project_id), {hook.id: hook.created_at})
            pipe.execute()

    def get(self, project_id: str, hook_id: str) -> Webhook:
        raw = self._r.hgetall(self._k.webhook(hook_id))
        if not raw or raw.get("project_id") != project_id:
            raise NotFound("Webhook not found")
        return from_hash(Webhook, raw)

    def of_project(self, project_id: str) -> list[Webhook]:
        ids = self._r.zrange(self._k.project_webhooks(project_id), 0, -1)
        with self._r.pipeline(transaction=False) as pipe:
            for hook_id in ids:
                pipe.hgetall(self._k.webhook(hook_id))
            return [from_hash(Webhook, raw) for raw in pipe.execute() if raw]

    def delete(self, hook: Webhook) -> None:
        with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(self._k.webhook(hook.id))
            pipe.zrem(self._k.project_webhooks(hook.project_id), hook.id)
            pipe.execute()
        self._forget_beyond(hook.id, 0)

    # -- deliveries -------------------------------------------------------------------------
    def add_delivery_once(self, delivery: Delivery, due: float) -> bool:
        """Create and schedule a delivery whose id is derived from its cause, unless it exists
        (a redelivered event). One WATCHed transaction: if it aborts, the other one won."""
        key = self._k.delivery(delivery.id)
        with self._r.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                if pipe.exists(key):
                    return False
                pipe.multi()
                pipe.hset(key, mapping=to_hash(delivery))
                pipe.zadd(
                    self._k.hook_deliveries(delivery.hook_id), {delivery.id: delivery.created_at}
                )
                pipe.zadd(self._k.due_deliveries(), {delivery.id: due})
                pipe.execute()
            except WatchError:
                return False
        self._forget_beyond(delivery.hook_id, DELIVERIES_KEPT)
        return True

    def _forget_beyond(self, hook_id: str, kept: int) -> None:
        """Delete the hook's deliveries older than its newest `kept` (with their attempts)."""
        index = self._k.hook_deliveries(hook_id)
        old = self._r.zrange(index, 0, -(kept + 1))
        if not old:
            return
        with self._r.pipeline(transaction=True) as pipe:
            for delivery_id in old:
                pipe.delete(self._k.delivery(delivery_id), self._k.delivery_attempts(delivery_id))
            pipe.zrem(self._k.due_deliveries(), *old)
            pipe.zrem(index, *old)
            pipe.execute()

    def claim_due(self, now: float, limit: int = 50) -> list[Delivery]:
        ids = self._r.zrangebyscore(self._k.due_deliveries(), "-inf", now, start=0, num=limit)
        claimed = []
        for delivery_id in ids:
            due = self._k.due_deliveries()
            claim = self._scripts.claim_delivery(
                due=due, delivery_id=delivery_id, now=now, until=now + CLAIM_S
            )
            if claim == 1:
                raw = self._r.hgetall(self._k.delivery(delivery_id))
                try:
                    claimed.append(from_hash(Delivery, raw))
                except DecodeError:  # gone, or half a record (record_attempt, before it
                    # looked): nothing to deliver, and never again due
                    self._r.zrem(self._k.due_deliveries(), delivery_id)
                    self._r.delete(self._k.delivery(delivery_id))
        return claimed

    def postpone(self, delivery_id: str, due: float) -> None:
        """Give back a claimed delivery, due again at `due`, with no attempt recorded."""
        self._r.zadd(self._k.due_deliveries(), {delivery_id: due}, xx=True)

    def record_attempt(
        self, delivery: Delivery, attempt: dict, state: str, retry_at: float | None
    ) -> None:
        """Log one attempt; then done (delivered/failed) or due again at retry_at. A delivery
        deleted meanwhile (its hook was, or it aged out) stays deleted: writing its state
        would leave half a record behind, due again and never decodable."""
        key = self._k.delivery(delivery.id)
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)
                    if not pipe.exists(key):
                        pipe.zrem(self._k.due_deliveries(), delivery.id)
                        return
                    pipe.multi()
                    pipe.rpush(self._k.delivery_attempts(delivery.id), json.dumps(attempt))
                    pipe.hincrby(key, "attempts", 1)
                    pipe.hset(
                        key, mapping={"state": state, "last_error": attempt.get("error") or ""}
                    )
                    if retry_at is None:
                        pipe.zrem(self._k.due_deliveries(), delivery.id)
                    else:
                        pipe.zadd(self._k.due_deliveries(), {delivery.id: retry_at})
                    pipe.execute()
                    return
                except WatchError:  # deleted (or changed) between the look and the write
                    continue

    def deliveries(self, hook_id: str, limit: int = 100) -> list[tuple[Delivery, list[dict]]]:
        ids = self._r.zrevrange(self._k.hook_deliveries(hook_id), 0, limit - 1)
        with self._r.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.hgetall(self._k.delivery(delivery_id))
                pipe.lrange(self._k.delivery_attempts(delivery_id), 0, -1)
            raw = pipe.execute()
        return [
            (from_hash(Delivery, raw[i]), [json.loads(a) for a in raw[i + 1]])
            for i in range(0, len(raw), 2)
            if raw[i]
        ]
