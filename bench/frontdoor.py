"""The front door beside its floor (#27): Ironworks' API and bench/floor_app.py on the same
stack (gunicorn gthread, 2 workers x 4 threads, redis-py, each with a Redis of its own),
loaded by Debian's wrk (8 connections, 10 s; 4 for batches), A B A B A B. The code is paused, so
nothing runs: this measures accepting and reading tasks, not running them."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median

import requests

from bench.harness import Row, free_port, platform, redis_server, upload_noop

RUNS, SECONDS = 3, 10
BIG_BATCH = 100_000
LUA = """wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "OAuth {token}"
"""


def frontdoor(scale: object) -> list[Row]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make setup-test does)")
    with platform(runner_slots=1) as running, _floor() as floor:
        project = running.project("frontdoor")
        upload_noop(project)
        project.pause(project.codes()[0]["id"])
        ours = (running.url, project.project_id, project.token)
        task_id = project.queue("noop")
        floor_task = requests.post(
            f"{floor[0]}/2/projects/{floor[1]}/tasks", json={"tasks": [{"code_name": "noop"}]},
            headers={"Authorization": f"OAuth {floor[2]}"}, timeout=10,
        ).json()["tasks"][0]["id"]  # fmt: skip
        one = json.dumps({"tasks": [{"code_name": "noop", "payload": "{}"}]})
        hundred = json.dumps({"tasks": [{"code_name": "noop", "payload": "{}"}] * 100})
        hook = json.dumps({"event": "push", "ref": "main"})
        rows = []
        for metric, method, path, body, connections, per_request in (
            ("POST tasks, one task per request", "POST", "/tasks", one, 8, 1),
            ("POST tasks, 100 tasks per request", "POST", "/tasks", hundred, 4, 100),
            ("inbound webhook, one task per request", "POST", "/tasks/webhook?code_name=noop",
             hook, 8, 1),
            ("GET tasks/{id}", "GET", "/tasks/{id}", None, 8, 1),
        ):  # fmt: skip
            runs: dict[str, list[float]] = {"ironworks": [], "floor": []}
            cpu: list[float] = []
            for _ in range(RUNS):
                for side, (url, project_id, token) in (("ironworks", ours), ("floor", floor)):
                    _quiet(running)  # the scheduler done with the last run's events
                    target = path.replace("{id}", task_id if side == "ironworks" else floor_task)
                    rate, used = _wrk(wrk, f"{url}/2/projects/{project_id}{target}", method,
                                      body, token, connections)  # fmt: skip
                    runs[side].append(rate * per_request)
                    cpu.append(used)
            unit = "tasks/s" if per_request > 1 else "req/s"
            conditions = (
                f"wrk {connections} connections, {SECONDS} s, median of {RUNS}; wrk used"
                f" {max(cpu):.2f} cores at most; baseline: the same-stack floor"
                " (bench/floor_app.py)"
            )
            rows.append(Row(metric, median(runs["ironworks"]), median(runs["floor"]), unit,
                            conditions, runs))  # fmt: skip
        rows.append(_big_batch(running, ours, floor))
    return rows


def _big_batch(running, ours: tuple[str, str, str], floor: tuple[str, str, str]) -> Row:
    """One POST batches of BIG_BATCH payloads, timed to its answer, RUNS times each (A B A B
    A B); and the API's memory (PSS of its processes) before and after Ironworks' first."""
    body = json.dumps({"code_name": "noop", "payloads": ["{}"] * BIG_BATCH})
    runs: dict[str, list[float]] = {"ironworks": [], "floor": []}
    memory = []
    for _ in range(RUNS):
        for side, (url, project_id, token) in (("ironworks", ours), ("floor", floor)):
            _quiet(running)
            if side == "ironworks" and not memory:
                memory.append(running.memory("api")[1])
            started = time.monotonic()
            answer = requests.post(
                f"{url}/2/projects/{project_id}/batches", data=body, timeout=300,
                headers={"Authorization": f"OAuth {token}", "Content-Type": "application/json"},
            )  # fmt: skip
            took = time.monotonic() - started
            if answer.status_code != 201 or len(answer.json()["tasks"]) != BIG_BATCH:
                raise SystemExit(f"{side}: POST batches failed: {answer.text[:300]}")
            runs[side].append(BIG_BATCH / took)
            if side == "ironworks" and len(memory) == 1:
                memory.append(running.memory("api")[1])
    ours_s = BIG_BATCH / median(runs["ironworks"])
    conditions = (
        f"one POST batches of {BIG_BATCH:,} payloads, to its answer, median of {RUNS}"
        f" ({ours_s:.1f} s); the API's PSS {memory[0]:.0f} MB before, {memory[1]:.0f} MB"
        " after; baseline: the same-stack floor"
    )
    return Row(f"POST batches, {BIG_BATCH:,} items", median(runs["ironworks"]),
               median(runs["floor"]), "tasks/s", conditions, runs)  # fmt: skip


def _quiet(running, timeout_s: float = 60) -> None:
    """Wait until the platform's processes are idle (under a tenth of a core), so that what
    one run left to do (its events) is not counted against the next."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = running.cpu_s()
        time.sleep(0.5)
        if running.cpu_s() - before < 0.05:
            return


def _wrk(wrk: str, url: str, method: str, body: str | None, token: str,
         connections: int) -> tuple[float, float]:  # fmt: skip
    """Requests per second, and the cores wrk itself used (not the bottleneck below ~1)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA.format(method=method, token=token,
                                body="nil" if body is None else json.dumps(body)))  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [wrk, "-t", "2", "-c", str(connections), "-d", f"{SECONDS}s", "-s", script.name, url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    took = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(script.name)
    if "Non-2xx" in done.stdout:
        raise SystemExit(f"wrk saw errors from {url}:\n{done.stdout}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))
    used = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / took
    return rate, used


@contextmanager
def _floor() -> Iterator[tuple[str, str, str]]:
    """The floor app under gunicorn as the API runs (a listening socket per worker too),
    with a Redis of its own: (url, project id, token)."""
    with redis_server() as redis_url:
        port = free_port()
        env = os.environ | {"FLOOR_REDIS_URL": redis_url}
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "2", "--threads", "4",
             "--reuse-port", "-b", f"127.0.0.1:{port}", "bench.floor_app:app"],
            cwd=Path(__file__).parent.parent, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            subprocess.run(
                [sys.executable, "-c", "from bench.floor_app import add_project;"
                 " add_project('f' * 24, 'floor-token')"],
                cwd=Path(__file__).parent.parent, env=env, check=True,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    requests.get(url, timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            yield url, "f" * 24, "floor-token"
        finally:
            process.terminate()
            process.wait(30)
