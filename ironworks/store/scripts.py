"""The Lua scripts behind every multi-key state change, loaded once per connection."""

from __future__ import annotations

from importlib import resources

from redis import Redis
from redis.commands.core import Script

NAMES = (
    "admit",
    "promote",
    "take",
    "start",
    "renew",
    "finish",
    "requeue",
    "hand_back",
    "append_log",
    "progress",
    "count_status",
    "scan_tasks",
    "batch_count",
    "batch_settle",
    "fire",
    "claim_delivery",
    "wait_on",
    "dependency_ended",
)


class Scripts:
    def __init__(self, redis: Redis) -> None:
        folder = resources.files(__package__) / "lua"
        self._scripts: dict[str, Script] = {
            name: redis.register_script((folder / f"{name}.lua").read_text()) for name in NAMES
        }

    def run(self, name: str, keys: list[str], args: list[object], client=None) -> object:
        """Run a script now, or on `client` (a pipeline) as one of its commands."""
        return self._scripts[name](keys=keys, args=args, client=client)
