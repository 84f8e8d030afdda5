"""Every Lua script against its header, and every Python wrapper against both.

A script's header names each KEYS[n] and ARGV[n]; its body must use exactly those positions;
the wrapper of the same name must send exactly those names, in that order. A key appended
to a script, or a wrapper that swaps two arguments, fails here before it corrupts state.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from ironworks.lanes import BAND, code_of, lane_of
from ironworks.store import constants
from ironworks.store.keys import Keys
from ironworks.store.scripts import NAMES, Scripts, prelude, source

HEADER = re.compile(r"^-- (KEYS|ARGV)\[(\d+)(\.\.\.)?\] +(\w+)")
USED = re.compile(r"\b(KEYS|ARGV)\[(\d+)\]")


@dataclass
class Contract:
    keys: list[str]
    args: list[str]
    keys_tail: str | None = None
    args_tail: str | None = None


def contract(name: str) -> Contract:
    found = Contract([], [])
    for line in source(name).splitlines():
        if not line.startswith("--"):
            break
        if m := HEADER.match(line):
            kind, n, tail, field = m.group(1), int(m.group(2)), m.group(3), m.group(4)
            names = found.keys if kind == "KEYS" else found.args
            assert n == len(names) + 1, f"{name}: {kind}[{n}] out of order"
            assert (found.keys_tail if kind == "KEYS" else found.args_tail) is None, "tail last"
            if tail:
                setattr(found, "keys_tail" if kind == "KEYS" else "args_tail", field)
            else:
                names.append(field)
    return found


class Recorder:
    """Stands in for Scripts' loaded scripts: keeps what a wrapper would send to Redis."""

    def __call__(self, name, keys, args, client=None):
        self.sent = (name, list(keys), list(args))
        return 0


def sentinel(parameter: inspect.Parameter) -> Any:
    annotation = str(parameter.annotation)
    if "Sequence" in annotation:
        return [f"{parameter.name}-1", f"{parameter.name}-2"]
    if annotation == "bool":
        return True
    return parameter.name


@pytest.mark.parametrize("name", NAMES)
def test_each_wrapper_sends_what_its_script_header_names_in_order(name):
    expected = contract(name)
    scripts = Scripts.__new__(Scripts)
    scripts._run = recorder = Recorder()  # type: ignore[method-assign]
    wrapper = getattr(scripts, name)
    parameters = {
        p.name: p for p in inspect.signature(wrapper).parameters.values() if p.name != "client"
    }
    getattr(scripts, name)(**{n: sentinel(p) for n, p in parameters.items()})
    sent_name, keys, args = recorder.sent

    def tail(field: str | None) -> list[str]:
        return [f"{field}-1", f"{field}-2"] if field else []

    bools = {n for n, p in parameters.items() if str(p.annotation) == "bool"}
    assert sent_name == name
    assert keys == expected.keys + tail(expected.keys_tail)
    assert args == ["1" if n in bools else n for n in expected.args] + tail(expected.args_tail)
    declared = set(expected.keys + expected.args)
    declared |= {t for t in (expected.keys_tail, expected.args_tail) if t}
    assert set(parameters) == declared, "the wrapper takes exactly the header's names"


@pytest.mark.parametrize("name", NAMES)
def test_each_script_uses_exactly_the_positions_its_header_declares(name):
    expected = contract(name)
    body = "\n".join(line for line in source(name).splitlines() if not line.startswith("--"))
    used = {"KEYS": set(), "ARGV": set()}
    for kind, n in USED.findall(body):
        used[kind].add(int(n))
    for kind, fixed, tail in (
        ("KEYS", expected.keys, expected.keys_tail),
        ("ARGV", expected.args, expected.args_tail),
    ):
        declared = set(range(1, len(fixed) + 1))
        assert declared <= used[kind], f"{name}: {kind} declared but never read"
        if tail is None:
            assert used[kind] <= declared, f"{name}: {kind} read but not declared"


def test_every_script_file_is_declared_and_loads_with_its_prelude(settings):
    from importlib import resources

    folder = resources.files("ironworks.store") / "lua"
    files = {p.name.removesuffix(".lua") for p in folder.iterdir() if p.name.endswith(".lua")}
    assert files == set(NAMES)
    client = redis.Redis.from_url(settings.redis_url)
    scripts = Scripts(client, Keys("iw"))
    for script in scripts._scripts.values():
        assert client.script_load(script.script) == script.sha  # compiles


def test_the_prelude_carries_the_python_definitions(settings):
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    head = prelude(Keys("pfx"))
    probe = client.register_script(
        head
        + "wake(KEYS[1]) add_event(KEYS[2], 'a', 'b')"
        + " return {expiring_member('task', 'x'), task_key('t1'), tostring(BAND), code_key('c1')}"
    )
    for _ in range(constants.WAKE_LIST_LEN + 5):
        member, key, band, code_key = probe(keys=["wake", "events"])
    assert client.llen("wake") == constants.WAKE_LIST_LEN
    assert member == constants.expiring_member("task", "x")
    assert constants.parse_expiring(member) == ("task", "x")
    assert key == Keys("pfx").task("t1")
    assert code_key == Keys("pfx").code("c1")
    assert float(band) == float(BAND)


def test_the_prelude_builds_keys_and_lanes_as_python_does(settings):
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    keys = Keys("pfx")
    probe = client.register_script(
        prelude(keys) + " return {code_of(ARGV[1]), code_of(ARGV[2]), code_active_key(ARGV[1]),"
        " waiting_key(ARGV[2]), lane_active_key(ARGV[2]), lane_turns_key(ARGV[3])}"
    )
    keyed = lane_of("c1", "customer-7")
    assert probe(args=["c1", keyed, "p1"]) == [
        code_of("c1"), code_of(keyed), keys.code_active("c1"), keys.waiting(keyed),
        keys.lane_active(keyed), keys.lane_turns("p1"),
    ]  # fmt: skip


def test_a_status_change_the_transition_table_lacks_is_refused_and_writes_nothing(store):
    from ironworks.model import TaskStatus
    from tests.store_helpers import enqueue, make_code, make_project

    (task_id,) = enqueue(store, make_code(store, make_project(store)))
    task = store.tasks.get(task_id)
    before = store.redis.hgetall(store.keys.task(task_id))
    with pytest.raises(redis.ResponseError, match="may not go from queued to complete"):
        store.tasks._transition(task, TaskStatus.QUEUED, None, TaskStatus.COMPLETE, 1.0, 0, "",
                                None)  # fmt: skip
    assert store.redis.hgetall(store.keys.task(task_id)) == before
    assert store.tasks.give_up(task, 2.0, "no runner")  # queued -> killed is in the table
    assert store.tasks.get(task_id).status is TaskStatus.KILLED
