"""The CLI as a newcomer uses it: a real `ironworks` process against the running platform."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ADMIN_TOKEN, ROOT


@pytest.fixture
def ironworks(platform, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRONWORKS_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path), "IRONWORKS_URL": platform.url}

    def run(*args: str, admin: bool = False) -> subprocess.CompletedProcess:
        extra = {"IRONWORKS_ADMIN_TOKEN": ADMIN_TOKEN} if admin else {}
        return subprocess.run(
            [sys.executable, "-m", "ironworks.cli", *args],
            env=env | extra,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


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
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "run.sh").write_text("echo broken; exit 7\n")
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
