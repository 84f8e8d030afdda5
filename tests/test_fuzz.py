"""Schemathesis, from /openapi.json, against a live server holding real objects: no 5xx."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import ADMIN_TOKEN, zip_files

pytestmark = pytest.mark.slow
# Every check schemathesis has: no 5xx; every status code and JSON body as the document says;
# what the document allows is accepted and what it forbids refused; 405s with Allow; auth.
CHECKS = "all"
# Operations whose valid requests also obey a rule JSON Schema cannot state, so a request the
# document allows may still get a 400 that names the rule: a code upload needs a zip or an
# image, and `command` or `runtime` + `file_name`; a webhook's URL must name a host that is
# not private; an egress grant must be a real IPv4 network that is not loopback or metadata.
RUN_TIMEOUT_S = 900
RULES_NO_SCHEMA_STATES = [
    ("POST", "/2/projects/{project_id}/codes"),
    ("POST", "/2/projects/{project_id}/webhooks"),
    ("PUT", "/2/projects/{project_id}/egress"),
]


# Schemathesis's run takes its own time, several times longer on a loaded machine (one CI run
# beside other work passed the suite's 300 s): the test allows what it allows the run.
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_generated_requests_never_get_a_server_error(platform, tmp_path):
    # Installed beside this Python (the venv's bin, which need not be on PATH).
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    assert st, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    project = platform.new_project("fuzzed")
    code = project.upload_code(
        zip_files({"run.sh": "true"}), {"name": "w", "stack": "sh", "command": "sh run.sh"}
    )
    task_id = project.queue("w")
    schedule_id = project.schedule("w", run_every=3600)
    hook = project._request(
        "POST", f"/2/projects/{project.project_id}/webhooks", json={"url": "http://127.0.0.1:9/"}
    ).json()
    batch_id = project.create_batch("w", ["1", "2"])["id"]
    ids = {"project_id": project.project_id, "code_id": code["id"], "task_id": task_id,
           "schedule_id": schedule_id, "hook_id": hook["id"], "batch_id": batch_id}  # fmt: skip
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        + "".join(f'"path.{k}" = "{v}"\n' for k, v in ids.items())
        + "".join(
            f'[[operations]]\ninclude-path = "{path}"\ninclude-method = "{method}"\n'
            'checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404", "409"]\n'
            for method, path in RULES_NO_SCHEMA_STATES
        )
    )
    done = subprocess.run(
        [st, "--config-file", str(config), "run", f"{platform.url}/openapi.json",
         # The admin's token: it reaches every route, and no call can revoke it (a project's
         # token is rotated by one of the routes, which turned every later call into a 401).
         "-H", f"Authorization: OAuth {ADMIN_TOKEN}", "-c", CHECKS,
         "-n", "25", "--generation-deterministic"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path,
    )  # fmt: skip
    (tmp_path / "schemathesis.out").write_text(done.stdout)  # the whole report, kept
    assert done.returncode == 0, done.stdout[-4000:]
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", done.stdout).groups())
    assert generated == passed and generated > 100
    assert "Authentication failed" not in done.stdout, done.stdout[-4000:]
