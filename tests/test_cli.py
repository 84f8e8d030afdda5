"""The CLI as a newcomer uses it: a real `ironworks` process against the running platform."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import requests

from tests.harness import ADMIN_TOKEN, ROOT


def config_token(config_home) -> str:
    """The project token the CLI saved (XDG_CONFIG_HOME is the test's tmp_path)."""
    return json.loads((config_home / "ironworks" / "config.json").read_text())["token"]


@pytest.fixture
def ironworks(platform, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRONWORKS_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path), "IRONWORKS_URL": platform.url}

    def run(*args: str, admin: bool = False, stdin: str = "") -> subprocess.CompletedProcess:
        extra = {"IRONWORKS_ADMIN_TOKEN": ADMIN_TOKEN} if admin else {}
        return subprocess.run(
            [sys.executable, "-m", "ironworks.cli", *args],
            env=env | extra,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def script_dir(tmp_path, script: str):
    """A code directory holding run.sh."""
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "run.sh").write_text(script)
    return code_dir


def test_newcomer_flow_create_upload_queue_and_wait(ironworks, tmp_path):
    created = ironworks("project", "create", "demo", admin=True)
    assert created.returncode == 0, created.stderr
    assert "Created project demo" in created.stdout
    assert json.loads((tmp_path / "ironworks" / "config.json").read_text())["project_id"]

    uploaded = ironworks(
        "upload", str(ROOT / "examples" / "hello"), "--name", "hello",
        "--stack", "python", "--command", "python3 hello.py",
    )  # fmt: skip
    assert uploaded.returncode == 0, uploaded.stderr
    assert "Uploaded hello revision 1" in uploaded.stdout

    ran = ironworks("queue", "hello", "--payload", '{"name": "CLI"}', "--wait")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "Hello, CLI!\n"
    task_id = re.search(r"Queued (\w+)", ran.stderr).group(1)

    assert ironworks("logs", task_id).stdout == "Hello, CLI!\n"
    assert json.loads(ironworks("status", task_id).stdout)["status"] == "complete"
    listing = ironworks("tasks", "--status", "complete")
    assert task_id in listing.stdout and "hello" in listing.stdout


def test_wait_exits_with_the_tasks_exit_code(ironworks, tmp_path):
    ironworks("project", "create", "failing", admin=True)
    code_dir = script_dir(tmp_path, "echo broken; exit 7\n")
    ironworks("upload", str(code_dir), "--name", "broken", "--command", "sh run.sh")
    ran = ironworks("queue", "broken", "--wait")
    assert ran.returncode == 7 and ran.stdout == "broken\n"
    assert "error" in ran.stderr


def test_errors_are_one_line_messages_not_tracebacks(ironworks, tmp_path):
    no_admin = ironworks("project", "create", "x")
    assert no_admin.returncode == 1 and "IRONWORKS_ADMIN_TOKEN" in no_admin.stderr
    ironworks("project", "create", "errors", admin=True)
    unknown = ironworks("queue", "nope")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("Error: Code 'nope' not found (HTTP 404)")
    both = ironworks("queue", "nope", "--payload", "1", "--payload-file", __file__)
    assert both.returncode == 2 and "not both" in both.stderr
    for result in (no_admin, unknown, both):
        assert "Traceback" not in result.stderr


def test_every_code_and_schedule_verb_a_newcomer_expects(ironworks, tmp_path):
    ironworks("project", "create", "verbs", admin=True)
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    for version in ("one", "two"):
        (code_dir / "run.sh").write_text(f"echo {version}\n")
        assert (
            ironworks("upload", str(code_dir), "--name", "v", "--command", "sh run.sh").returncode
            == 0
        )

    table = ironworks("codes").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "REV", "STACK"] and table[1].split()[:2] == ["v", "2"]
    revs = json.loads(ironworks("revisions", "v", "--json").stdout)
    assert [(r["rev"], r["current"]) for r in revs] == [(2, True), (1, False)]
    assert "revision 1" in ironworks("rollback", "v", "1").stdout
    ran = ironworks("queue", "v", "--wait")
    assert ran.stdout == "one\n"

    assert ironworks("pause", "v").stdout == "v: paused\n"
    retried = ironworks("retry", re.search(r"Queued (\w+)", ran.stderr).group(1)).stdout.strip()
    assert json.loads(ironworks("status", retried).stdout)["status"] == "queued"
    assert ironworks("resume", "v").stdout == "v: resumed\n"
    assert ironworks("logs", "-f", retried).stdout == "one\n"  # follows until it ends
    assert "complete: 2" in ironworks("stats", "v").stdout

    schedule_id = ironworks("schedule", "create", "v", "--every", "3600").stdout.strip()
    listed = json.loads(ironworks("schedule", "list", "--json").stdout)
    assert [s["id"] for s in listed] == [schedule_id]
    assert "cancelled" in ironworks("schedule", "cancel", schedule_id).stdout
    hook_url = ironworks("webhook-url", "v").stdout.strip()
    assert config_token(tmp_path) not in hook_url  # a third party gets a token of its own
    hooked = requests.post(hook_url, data='{"from": "github"}', timeout=30).json()
    assert json.loads(ironworks("status", hooked["id"]).stdout)["payload"] == '{"from": "github"}'

    token = ironworks("project", "rotate-token").stdout.split()[2]
    assert config_token(tmp_path) == token  # saved, and the CLI goes on working with it
    assert ironworks("schedule", "list", "--json").returncode == 0

    bad = ironworks("schedule", "create", "v", "--every", "5")
    assert bad.returncode == 1 and "at least 60" in bad.stderr and "Traceback" not in bad.stderr


def test_ironworker_settings_are_read_when_ours_are_missing(ironworks, platform, tmp_path):
    created = platform.admin().create_project("migrant")
    (tmp_path / "iron.json").write_text(json.dumps({"project_id": created["id"]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRONWORKS_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "empty"), "IRONWORKS_URL": platform.url,
            "IRON_TOKEN": created["token"]}  # fmt: skip
    listed = subprocess.run(
        [sys.executable, "-m", "ironworks.cli", "codes", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_batch_maps_a_jsonl_file_and_reduces_it(ironworks, tmp_path):
    ironworks("project", "create", "primes", admin=True)
    for name in ("is_prime", "count"):
        folder = str(ROOT / "examples" / "mapreduce" / name)
        command = f"python3 {name}.py"
        uploaded = ironworks(
            "upload", folder, "--name", name, "--stack", "python", "--command", command
        )
        assert uploaded.returncode == 0, uploaded.stderr
    numbers = tmp_path / "numbers.jsonl"
    numbers.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(1, 8)))

    ran = ironworks("batch", "is_prime", "--payloads", str(numbers), "--reduce", "count", "--wait")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"primes": 4, "missing": 0}

    mapped = ironworks("batch", "is_prime", "--payloads", str(numbers), "--wait")
    results = [json.loads(line) for line in mapped.stdout.splitlines()]
    assert [r["n"] for r in results] == list(range(1, 8))
    assert [r["n"] for r in results if r["prime"]] == [2, 3, 5, 7]


def test_batch_refuses_a_file_that_is_not_json_lines(ironworks, tmp_path):
    ironworks("project", "create", "badfile", admin=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"n": 1}\nnot json\n')
    ran = ironworks("batch", "anything", "--payloads", str(bad))
    assert ran.returncode == 2 and "line 2 is not JSON" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_flow_control_verbs_queue_once_after_a_dependency_and_replay(ironworks, tmp_path):
    ironworks("project", "create", "flow", admin=True)
    code_dir = script_dir(tmp_path, 'echo "got $(cat $PAYLOAD_FILE) ${REPLAY_OF:+replayed}"\n')
    ironworks("upload", str(code_dir), "--name", "f", "--command", "sh run.sh")

    first = ironworks("queue", "f", "--payload", "a", "--idempotency-key", "k").stdout.strip()
    assert ironworks("queue", "f", "--idempotency-key", "k").stdout.strip() == first
    after = ironworks("queue", "f", "--payload", "b", "--depends-on", first, "--wait")
    assert after.returncode == 0 and after.stdout == "got b \n"
    assert json.loads(ironworks("status", first).stdout)["status"] == "complete"

    copy = ironworks("replay", first, "--payload", "c").stdout.strip()
    assert ironworks("logs", "-f", copy).stdout == "got c replayed\n"
    bulk = ironworks("replay", "--code", "f", "--status", "complete")
    assert bulk.stdout == "Queued 3 replay(s)\n"  # the first, the dependent and the copy
    both = ironworks("replay", first, "--code", "f")
    assert both.returncode == 2 and "not both" in both.stderr

    limited = ironworks("upload", str(code_dir), "--name", "f", "--command", "sh run.sh",
                        "--concurrency-key", "{c}", "--max-concurrency-per-key", "1",
                        "--rate-limit", "5/60", "--rate-limit-per-key")  # fmt: skip
    assert limited.returncode == 0, limited.stderr
    (code,) = json.loads(ironworks("codes", "--json").stdout)
    assert (code["concurrency_key"], code["max_concurrency_per_key"]) == ("{c}", 1)
    assert code["rate_limit"] == {"count": 5, "period_s": 60, "per_key": True}
    keyed = ironworks("queue", "f", "--payload", '{"c": "x"}', "--wait")
    assert keyed.returncode == 0 and "got {" in keyed.stdout
    bad_rate = ironworks("upload", str(code_dir), "--name", "f", "--command", "x",
                         "--rate-limit", "5")  # fmt: skip
    assert bad_rate.returncode == 2 and "N/S" in bad_rate.stderr


def test_a_secret_goes_in_by_stdin_and_reaches_the_task_masked(ironworks, tmp_path):
    assert ironworks("project", "create", "vault", admin=True).returncode == 0
    value = "hunter2-but-longer"
    done = ironworks("secret", "set", "API_KEY", stdin=value + "\n")
    assert done.returncode == 0 and "Created secret API_KEY" in done.stdout, done.stderr
    listed = ironworks("secret", "ls")
    assert "API_KEY" in listed.stdout and value not in listed.stdout
    code = script_dir(tmp_path, 'test "$API_KEY" = "hunter2-but-longer" && echo "got $API_KEY"')
    uploaded = ironworks("upload", str(code), "--name", "uses", "--command", "sh run.sh",
                         "--secret", "API_KEY")  # fmt: skip
    assert uploaded.returncode == 0, uploaded.stderr
    ran = ironworks("queue", "uses", "--wait")
    assert ran.returncode == 0 and ran.stdout.strip().endswith("got ***"), ran.stdout
    assert value not in ran.stdout + ran.stderr
    removed = ironworks("secret", "rm", "API_KEY")
    assert removed.returncode == 0 and "Deleted secret API_KEY" in removed.stdout
    missing = ironworks("upload", str(code), "--name", "uses", "--command", "sh run.sh",
                        "--secret", "API_KEY")  # fmt: skip
    assert missing.returncode != 0 and "no secret named API_KEY" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_the_operator_grants_egress_and_the_project_reads_it(ironworks):
    created = ironworks("project", "create", "reach", admin=True)
    project_id = re.search(r"\(([0-9a-f]+)\)", created.stdout)[1]
    refused = ironworks("project", "egress", "set", project_id, "10.1.2.3/32:5432")
    assert refused.returncode != 0 and "admin token" in refused.stderr
    done = ironworks("project", "egress", "set", project_id, "10.1.2.3/32:5432", admin=True)
    assert done.returncode == 0 and "10.1.2.3/32:5432" in done.stdout, done.stderr
    assert ironworks("project", "egress", "show").stdout.split() == ["10.1.2.3/32:5432"]
    bad = ironworks("project", "egress", "set", project_id, "127.0.0.1/32:80", admin=True)
    assert bad.returncode != 0 and "loopback" in bad.stderr and "Traceback" not in bad.stderr
