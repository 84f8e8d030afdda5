"""The Lua scripts behind every multi-key state change: one typed function each.

A script's header is its contract: one line per `KEYS[n]` and `ARGV[n]`, each with a name (a
variable tail is written `KEYS[n...]`). The method of the same name here takes those names as
keyword arguments, keys first, and passes them in that order, so a call site names what it
passes and never counts positions; tests/test_scripts.py calls every method and checks what
it sends against the header, and that each script uses exactly the positions it declares.

Every script runs after a prelude that gives it the values Python defines once
(`constants.py`, `lanes.BAND` and `LANE_SEP`, the formats of the keys scripts derive) and
the steps several scripts share.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis import Redis
from redis.commands.core import Script

from ironworks.lanes import BAND, LANE_SEP
from ironworks.model import TRANSITIONS
from ironworks.store.constants import EVENTS_MAXLEN, EXPIRING_SEP, WAKE_LIST_LEN
from ironworks.store.keys import Keys

Arg = str | int | float

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
    "step_aside",
    "step_back",
    "intake",
    "add_tasks",
    "lane_views",
)


def prelude(keys: Keys) -> str:
    """Lua put before every script: shared values and steps, from their Python definitions.
    `announce` appends a task's event (the one shape of every event: its ids, its batch, the
    status, the attempt); `count_status` keeps a code's per-status counts (count_status.lua).
    `check_move` refuses a status change model.TRANSITIONS does not list; a script calls it
    before it writes anything, as an error after a write would not undo the write."""
    moves = ", ".join(
        f"{old} = {{{', '.join(f'{new} = true' for new in sorted(allowed))}}}"
        for old, allowed in TRANSITIONS.items()
    )
    return f"""\
local BAND = {BAND}
local TRANSITIONS = {{{moves}}}
local function check_move(from, to)
  if not (TRANSITIONS[from] and TRANSITIONS[from][to]) then
    error('a task may not go from ' .. tostring(from) .. ' to ' .. tostring(to))
  end
end
local function wake(list)
  redis.call('LPUSH', list, '1')
  redis.call('LTRIM', list, 0, {WAKE_LIST_LEN - 1})
end
local function add_event(stream, ...)
  return redis.call('XADD', stream, 'MAXLEN', '~', {EVENTS_MAXLEN}, '*', ...)
end
local function expiring_member(kind, id) return kind .. '{EXPIRING_SEP}' .. id end
local LANE_SEP = '{LANE_SEP}'
local function code_of(lane)
  local at = string.find(lane, LANE_SEP, 1, true)
  return at and string.sub(lane, 1, at - 1) or lane
end
{keys.lua_builders()}
local function announce(stream, id, status)
  local task = redis.call('HMGET', task_key(id), 'project_id', 'code_id', 'batch_id', 'attempt')
  return add_event(stream, 'task_id', id, 'project_id', task[1], 'code_id', task[2],
                   'batch_id', task[3] or '', 'status', status, 'attempt', task[4] or '0')
end
local function count_status(stats, seen_key, task_id, status, rank)
  local seen = redis.call('HGET', seen_key, task_id)
  local seen_rank, seen_status = -1, nil
  if seen then
    local sep = string.find(seen, ':', 1, true)
    seen_rank, seen_status = tonumber(string.sub(seen, 1, sep - 1)), string.sub(seen, sep + 1)
  end
  if tonumber(rank) <= seen_rank then return 0 end
  if seen_status then redis.call('HINCRBY', stats, seen_status, -1) end
  redis.call('HINCRBY', stats, status, 1)
  redis.call('HSET', seen_key, task_id, rank .. ':' .. status)
  return 1
end
"""


def source(name: str) -> str:
    """A script's own text, as kept in `lua/`."""
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text()


def _opt(value: Arg | None) -> Arg:
    """An optional argument as the scripts take it: '' for none."""
    return "" if value is None else value


class Scripts:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        # One line, so that a script's line numbers in Redis's errors are its file's plus one.
        head = prelude(keys).replace("\n", " ")
        self._scripts: dict[str, Script] = {
            name: redis.register_script(f"{head}\n{source(name)}") for name in NAMES
        }

    def _run(self, name: str, keys: Sequence[str], args: Sequence[Arg], client: Any = None) -> Any:
        """Run a script now, or on `client` (a pipeline) as one of its commands: there by its
        text (EVAL; Redis keeps it compiled), as redis-py would first ask SCRIPT EXISTS, a round
        trip more for every pipeline that runs a script."""
        script = self._scripts[name]
        if client is None:
            return script(keys=list(keys), args=list(args))
        return client.eval(script.script, len(keys), *keys, *args)

    # -- admission --------------------------------------------------------------------------
    def admit(
        self, *, project: str, project_active: str, waiting_lanes: str, ready_projects: str,
        leases: str, lane_turns: str, task_seq: str, tail_keys: Sequence[str],
        project_id: str, lease_expiry: float, lanes: int, clusters: int,
        tail_args: Sequence[Arg], client: Any = None,
    ) -> list[str]:  # fmt: skip
        keys = [project, project_active, waiting_lanes, ready_projects, leases, lane_turns,
                task_seq, *tail_keys]  # fmt: skip
        args: list[Arg] = [project_id, lease_expiry, lanes, clusters, *tail_args]
        return self._run("admit", keys, args, client)

    def lane_views(self, *, heads: int, fields: str, lanes: Sequence[str]) -> list:
        return self._run("lane_views", [], [heads, fields, *lanes])

    def promote(
        self, *, delayed: str, waiting: str, waiting_lanes: str, ready_projects: str,
        task_id: str, score: int, lane: str, project_id: str,
    ) -> int:  # fmt: skip
        keys = [delayed, waiting, waiting_lanes, ready_projects]
        return self._run("promote", keys, [task_id, score, lane, project_id])

    def requeue(
        self, *, task: str, leases: str, project_active: str, code_active: str, waiting: str,
        waiting_lanes: str, ready_projects: str, wake: str, lane_active: str, dispatched: str,
        task_id: str, attempt: int, now: float, score: int, lane: str, project_id: str,
    ) -> int:  # fmt: skip
        keys = [task, leases, project_active, code_active, waiting, waiting_lanes,
                ready_projects, wake, lane_active, dispatched]  # fmt: skip
        return self._run("requeue", keys, [task_id, attempt, now, score, lane, project_id])

    def intake(
        self, *, code_names: str, task_seq: str, token: str, seqs: int, names: Sequence[str],
        client: Any = None,
    ) -> list:  # fmt: skip
        return self._run("intake", [code_names, task_seq, token], [seqs, *names], client)

    def add_tasks(
        self, *, events: str, wake: str, task_seq: str, token: str, code_names: str, tasks: str,
        status: str, rank: int, project_id: str, codes: str, client: Any = None,
    ) -> list[str]:  # fmt: skip
        keys = [events, wake, task_seq, token, code_names]
        return self._run("add_tasks", keys, [tasks, status, rank, project_id, codes], client)

    def wait_on(
        self, *, waits_on: str, waiting: str, waiting_lanes: str, ready_projects: str,
        dependencies: Sequence[str], task_id: str, score: int, lane: str, project_id: str,
        dependency_ids: Sequence[str], client: Any = None,
    ) -> int:  # fmt: skip
        keys = [waits_on, waiting, waiting_lanes, ready_projects, *dependencies]
        args: list[Arg] = [task_id, score, lane, project_id, *dependency_ids]
        return self._run("wait_on", keys, args, client)

    def dependency_ended(
        self, *, task: str, waits_on: str, waiting: str, waiting_lanes: str,
        ready_projects: str, wake: str, retry_dependents: str, task_id: str,
        dependency_id: str, score: int, lane: str, project_id: str, retry_id: str,
    ) -> int:  # fmt: skip
        keys = [task, waits_on, waiting, waiting_lanes, ready_projects, wake, retry_dependents]
        args: list[Arg] = [task_id, dependency_id, score, lane, project_id, retry_id]
        return self._run("dependency_ended", keys, args)

    # -- the runner's fenced writes ---------------------------------------------------------
    def take(
        self, *, task: str, leases: str, task_id: str, attempt: int, runner: str, until: float
    ) -> int:
        return self._run("take", [task, leases], [task_id, attempt, runner, until])

    def start(
        self, *, task: str, queued_index: str, running_index: str, events: str, leases: str,
        dispatched: str, wake: str, task_id: str, attempt: int, now: float, runner: str,
        until: float, claim: str,
    ) -> int:  # fmt: skip
        keys = [task, queued_index, running_index, events, leases, dispatched, wake]
        return self._run("start", keys, [task_id, attempt, now, runner, until, claim])

    def renew(self, *, task: str, leases: str, task_id: str, attempt: int, until: float) -> int:
        return self._run("renew", [task, leases], [task_id, attempt, until])

    def progress(self, *, task: str, attempt: int | None, percent: int, msg: str) -> int:
        return self._run("progress", [task], [_opt(attempt), percent, msg])

    def append_log(self, *, task: str, log: str, attempt: int, chunk: str, max_bytes: int,
                   mark: str) -> int:  # fmt: skip
        return self._run("append_log", [task, log], [attempt, chunk, max_bytes, mark])

    def finish(
        self, *, task: str, from_index: str, to_index: str, project_active: str,
        code_active: str, waiting: str, delayed: str, events: str, wake: str, leases: str,
        ended: str, project: str, expiring: str, lane_active: str, dispatched: str,
        task_id: str, expected: str, attempt: int | None, status: str, exit_code: int | None,
        msg: str, now: float, result: str, reaped: bool, usage: str, retention_s: int,
    ) -> int:  # fmt: skip
        keys = [task, from_index, to_index, project_active, code_active, waiting, delayed]
        keys += [events, wake, leases, ended, project, expiring, lane_active, dispatched]
        args: list[Arg] = [task_id, expected, _opt(attempt), status, _opt(exit_code), msg, now]
        args += [result, "1" if reaped else "", usage, retention_s]
        return self._run("finish", keys, args)

    def hand_back(
        self, *, task: str, running_index: str, queued_index: str, project_active: str,
        code_active: str, leases: str, waiting: str, waiting_lanes: str, ready_projects: str,
        events: str, wake: str, lane_active: str, task_id: str, attempt: int, score: int,
        lane: str, project_id: str, msg: str,
    ) -> int:  # fmt: skip
        keys = [task, running_index, queued_index, project_active, code_active, leases,
                waiting, waiting_lanes, ready_projects, events, wake, lane_active]  # fmt: skip
        args: list[Arg] = [task_id, attempt, score, lane, project_id, msg]
        return self._run("hand_back", keys, args)

    def step_aside(
        self, *, task: str, project_active: str, code_active: str, lane_active: str,
        wake: str, task_id: str, attempt: int,
    ) -> int:  # fmt: skip
        keys = [task, project_active, code_active, lane_active, wake]
        return self._run("step_aside", keys, [task_id, attempt])

    def step_back(
        self, *, task: str, project_active: str, code_active: str, lane_active: str,
        task_id: str, attempt: int,
    ) -> int:  # fmt: skip
        keys = [task, project_active, code_active, lane_active]
        return self._run("step_back", keys, [task_id, attempt])

    # -- reading and counting -----------------------------------------------------------------
    def scan_tasks(
        self, *, index: str, first: int, last: int, statuses: str, code_id: str | None,
        label: str | None, from_time: float | None, to_time: float | None,
    ) -> list[Any]:  # fmt: skip
        args: list[Arg] = [first, last, statuses, _opt(code_id), _opt(label), _opt(from_time),
                _opt(to_time)]  # fmt: skip
        return self._run("scan_tasks", [index], args)

    def count_status(self, *, stats: str, seen: str, minute: str, durations: str, task_id: str,
                     status: str, rank: int, ended: bool, run_s: float | None,
                     keep_minute_s: int, keep_runs: int, client: Any = None) -> int:  # fmt: skip
        args: list[Arg] = [task_id, status, rank, "1" if ended else "", _opt(run_s)]
        return self._run("count_status", [stats, seen, minute, durations],
                         [*args, keep_minute_s, keep_runs], client)  # fmt: skip

    # -- batches, schedules, webhooks ---------------------------------------------------------
    def batch_count(
        self, *, batch: str, seen: str, counts: str, items: str, held: str, waiting: str,
        waiting_lanes: str, ready_projects: str, wake: str, index: int, task_id: str,
        status: str, order: int, final: bool, failed: bool, code_id: str, project_id: str,
    ) -> list[Any]:  # fmt: skip
        keys = [batch, seen, counts, items, held, waiting, waiting_lanes, ready_projects, wake]
        args: list[Arg] = [index, task_id, status, order, "1" if final else ""]
        args += ["1" if failed else "", code_id, project_id]
        return self._run("batch_count", keys, args)

    def batch_settle(
        self, *, batch: str, expiring: str, expected: str, status: str, expires_at: Arg,
        member: str, fields: Sequence[Arg],
    ) -> int:  # fmt: skip
        args: list[Arg] = [expected, status, expires_at, member, *fields]
        return self._run("batch_settle", [batch, expiring], args)

    def fire(self, *, schedule: str, due: str, schedule_id: str, seen_next: str, now: float,
             next_due: str, why: str) -> int:  # fmt: skip
        return self._run("fire", [schedule, due], [schedule_id, seen_next, now, next_due, why])

    def claim_delivery(self, *, due: str, delivery_id: str, now: float, until: float) -> int:
        return self._run("claim_delivery", [due], [delivery_id, now, until])
