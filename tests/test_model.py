"""Pure logic: settings, the status machine, the hash codec, admission order. No I/O."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ironworks.codec import from_hash, to_hash, to_hashes
from ironworks.errors import ConfigError, DecodeError
from ironworks.model import Code, Task, TaskStatus, admission_score, can_transition
from ironworks.runner_beats import RunnerBeat, run_queue, run_queues, slots_by_cluster
from ironworks.settings import Settings


def test_settings_read_typed_values_and_reject_unknown_names():
    settings = Settings.from_env(
        {
            "IRONWORKS_API_WORKERS": "4",
            "IRONWORKS_DATA_DIR": "/srv/iw",
            "REDIS_URL": "redis://r:6379/2",
            "IRONWORKS_URL": "http://ignored-client-setting",
            "HOME": "/root",
        }
    )
    assert settings.api_workers == 4 and settings.data_dir == Path("/srv/iw")
    assert settings.redis_url == "redis://r:6379/2"
    with pytest.raises(ConfigError, match="IRONWORKS_API_WORKRS"):
        Settings.from_env({"IRONWORKS_API_WORKRS": "4"})
    with pytest.raises(ConfigError, match="not a valid int"):
        Settings.from_env({"IRONWORKS_API_WORKERS": "many"})


def test_terminal_statuses_allow_no_further_transition():
    for status in TaskStatus:
        if status.is_terminal:
            assert not any(can_transition(status, new) for new in TaskStatus)
    assert can_transition(TaskStatus.QUEUED, TaskStatus.RUNNING)
    assert not can_transition(TaskStatus.QUEUED, TaskStatus.COMPLETE)


def test_codec_round_trips_optional_and_json_fields():
    code = Code("c", "p", "n", 3, "sh", "true", "sha", 10, 1.5, None, 30, {"A": "1"})
    assert from_hash(Code, to_hash(code)) == code
    task = Task("t", "p", "c", "n", 1, TaskStatus.ERROR, "", 2, 60, 1.0, exit_code=3)
    decoded = from_hash(Task, to_hash(task))
    assert decoded == task and decoded.status is TaskStatus.ERROR and decoded.label is None


@dataclasses.dataclass(frozen=True)
class Sample:
    id: str
    # Equal values that encode differently: 1, 1.0 and True; 0.0 and -0.0; [1] and [1.0].
    number: int | float | bool | None
    items: list[float] | None
    seq: int


SAMPLES = st.builds(
    Sample,
    id=st.sampled_from(["a", "b"]),
    number=st.sampled_from([None, 0, 1, 1.0, True, False, 0.0, -0.0]),
    items=st.sampled_from([None, [], [1], [1.0], [1, 2], [-0.0], [0.0]]),
    seq=st.integers(0, 2),
)


@given(st.lists(SAMPLES, min_size=1, max_size=5))
def test_records_split_into_shared_and_own_fields_encode_as_each_alone(samples):
    shared, own = to_hashes(samples, omit_none=True, apart=("seq",))
    for sample, record in zip(samples, own, strict=True):
        assert shared | record == to_hash(sample, omit_none=True)
        assert "seq" in record and not shared.keys() & record.keys()


def test_fields_records_have_alike_are_encoded_once():
    samples = [Sample("a", 1, [1], 1), Sample("b", 1, [1], 1), Sample("c", 1, None, 1)]
    shared, own = to_hashes(samples, omit_none=True, apart=("seq",))
    assert shared == {"number": "1"}
    assert own == [{"id": "a", "items": "[1]", "seq": "1"}, {"id": "b", "items": "[1]", "seq": "1"},
                   {"id": "c", "seq": "1"}]  # fmt: skip


def test_codec_reports_corrupt_records():
    raw = to_hash(Task("t", "p", "c", "n", 1, TaskStatus.QUEUED, "", 0, 60, 1.0))
    with pytest.raises(DecodeError):
        from_hash(Task, raw | {"priority": "high"})


def test_admission_score_orders_by_priority_then_arrival():
    scores = [admission_score(p, seq) for p, seq in [(2, 9), (1, 1), (1, 5), (0, 2)]]
    assert scores == sorted(scores)


def test_secret_looking_keys_are_masked_at_any_depth():
    from ironworks.masking import MASK, masked_payload

    payload = {
        "name": "Ada", "api_key": "k1", "password": "p", "githubToken": "t",
        "nested": {"clientSecret": "s", "monkey": "banana", "author": "me",
                   "list": [{"AUTH": "a", "keyboard": "qwerty"}]},
        "Authorization": "Bearer x", "db_passwd": "d", "count": 3,
    }  # fmt: skip
    shown = json.loads(masked_payload(json.dumps(payload)))
    assert shown["name"] == "Ada" and shown["count"] == 3
    assert shown["nested"]["monkey"] == "banana" and shown["nested"]["author"] == "me"
    assert shown["nested"]["list"][0]["keyboard"] == "qwerty"
    nested = shown["nested"]
    secrets = [
        shown[k] for k in ("api_key", "password", "githubToken", "Authorization", "db_passwd")
    ]
    secrets += [nested["clientSecret"], nested["list"][0]["AUTH"]]
    assert secrets == [MASK] * 7
    assert "k1" not in masked_payload(json.dumps(payload))
    assert masked_payload("not json: password=x") == "not json: password=x"


def test_slots_by_cluster_counts_live_runners_that_take_work():
    def beat(slots, clusters="default", seen_s_ago=1.0, draining=False):
        return RunnerBeat("r", "h", slots, 0, clusters, 0, 100 - seen_s_ago, draining)

    beats = [beat(4), beat(2, "default,gpu"), beat(8, seen_s_ago=16), beat(3, draining=True)]
    assert slots_by_cluster(beats, now=100, heartbeat_s=5) == {"default": 6, "gpu": 2}


def test_each_cluster_and_priority_has_a_queue_of_its_own():
    names = {run_queue(c, p) for c in ("gpu", "gpu-p1", "default") for p in (0, 1, 2)}
    assert len(names) == 9 and run_queue("gpu", 0) == "gpu"
    assert run_queues(["gpu"]) == ["gpu:p2", "gpu:p1", "gpu"]
