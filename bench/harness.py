"""What every benchmark needs: a running platform, a bare engine, and honest statistics."""

from __future__ import annotations

import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
from redis import ConnectionError as RedisConnectionError
from redis import Redis

from ironworks.cli.dev import free_port, wait_healthy
from ironworks.client import Client

SH_IMAGE = "ironworks/stack-sh:latest"
NOOP = "true"


@dataclass
class Row:
    """One line of RESULTS.md."""

    metric: str
    ironworks: float
    baseline: float | None
    unit: str
    conditions: str
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.ironworks / self.baseline


def settle(timeout_s: float = 30, busy: float = 0.1) -> None:
    """Wait until the machine is idle (under `busy` of its CPU time used over half a second),
    so that what the last case left behind (its processes exiting, containers removed) is
    not measured against the next."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = _cpu_times()
        time.sleep(0.5)
        after = _cpu_times()
        total, idle = (a - b for a, b in zip(after, before, strict=True))
        if total and 1 - idle / total < busy:
            return


def _cpu_times() -> tuple[int, int]:
    """(all, idle) jiffies of every core so far, from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]  # idle and iowait


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def p95(xs: list[float]) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def interleave(
    a: Callable[[], float], b: Callable[[], float], n: int
) -> tuple[list[float], list[float]]:
    """A B A B …: both sides see the same drift of a noisy machine."""
    xs, ys = [], []
    for _ in range(n):
        xs.append(a())
        ys.append(b())
    return xs, ys


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def upload_noop(project: Client, name: str = "noop", script: str = NOOP, **fields) -> None:
    data = {"name": name, "stack": "sh", "command": "sh run.sh", **fields}
    project.upload_code(zip_of({"run.sh": script}), data)


@dataclass
class Running:
    url: str
    admin_token: str
    data_dir: Path
    process: subprocess.Popen

    def project(self, name: str, max_concurrency: int | None = None) -> Client:
        created = Client(self.url, self.admin_token).create_project(name, max_concurrency)
        return Client(self.url, created["token"], created["id"], timeout_s=300)

    def memory(self, role: str) -> tuple[int, float]:
        """This platform's processes of one role (`python -m role` and everything it started):
        how many, and their proportional set size summed, in MB (RSS would count the pages
        they share once per process)."""
        procs = _process_table()
        role_roots = [
            pid for pid in _descendants(procs, self.process.pid) if f"-m\0{role}" in procs[pid][1]
        ]
        pids = {p for root in role_roots for p in (root, *_descendants(procs, root))}
        return len(pids), sum(_pss_kb(pid) for pid in pids) / 1024

    def cpu_s(self) -> float:
        """CPU seconds used so far by the platform's processes (all roles, Redis too)."""
        pids = (self.process.pid, *_descendants(_process_table(), self.process.pid))
        return sum(_cpu_s(pid) for pid in pids)


@contextmanager
def redis_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if Redis.from_url(url).ping():
                    break
            except RedisConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait()


@contextmanager
def platform(runner_slots: int, warm: bool = False) -> Iterator[Running]:
    """`ironworks dev` on free ports with its own Redis and data directory (and warm start on
    or off)."""
    work = Path(tempfile.mkdtemp(prefix="ironworks-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRONWORKS_")}
    env.pop("REDIS_URL", None)
    env["XDG_CONFIG_HOME"] = str(work / "config")
    env["IRONWORKS_WARM_START"] = "1" if warm else "0"
    log = open(work / "dev.log", "w")  # closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "ironworks.cli", "dev", "--port", str(port),
         "--data-dir", str(work / "data"), "--concurrency", str(runner_slots),
         # dev's 1 GB is for a laptop: the front door's cases store over a million tasks
         "--redis-maxmemory", "4gb"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, [process], timeout_s=60)
        token = (work / "data" / "admin_token").read_text().strip()
        yield Running(url, token, work / "data", process)
    finally:
        process.terminate()
        process.wait(180)  # the runner drains, then removes every container it started
        log.close()
        shutil.rmtree(work / "data", ignore_errors=True)  # its Redis's AOF: a GB after frontdoor


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line with NUL separators)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        table[int(stat.parent.name)] = (ppid, cmdline)
    return table


def _descendants(procs: dict[int, tuple[int, str]], root: int) -> list[int]:
    children = [pid for pid, (ppid, _) in procs.items() if ppid == root]
    return children + [d for child in children for d in _descendants(procs, child)]


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class BareEngine:
    """The baseline: the same image and command through docker-py, nothing else."""

    def __init__(self) -> None:
        self.client = docker.from_env()

    def cycle(self, command: str = NOOP, log_max_bytes: int | None = None) -> float:
        """create, start, wait, logs (all of the output), remove; seconds. With log_max_bytes,
        the engine keeps as much output as for a task with that log cap (the daemon's default
        here, 10 MB x 3 files, would leave less to read)."""
        started = time.monotonic()
        log_config = (
            None
            if log_max_bytes is None
            else docker.types.LogConfig(
                type="json-file", config={"max-size": str(4 * log_max_bytes), "max-file": "1"}
            )
        )
        container = self.client.containers.create(
            SH_IMAGE, ["sh", "-c", command], log_config=log_config
        )
        container.start()
        container.wait()
        container.logs()
        container.remove(force=True)
        return time.monotonic() - started

    def waiting_exit(self, command: str = NOOP) -> float:
        """The floor under any warm start: a container already created and started, waiting on
        its stdin as a prestarted one does; seconds from closing its stdin to its exit and its
        output read. Making and removing it are off the clock, as the platform's are."""
        container = self.client.containers.create(
            SH_IMAGE,
            ["sh", "-c", f"cat >/dev/null; {command}"],
            stdin_open=True,
            network_mode="none",  # as a task's (the bare cycle's default bridge costs ~40 ms more)
        )
        container.start()
        stdin = container.attach_socket(params={"stdin": 1, "stream": 1})
        try:
            started = time.monotonic()
            getattr(stdin, "_sock", stdin).shutdown(socket.SHUT_WR)
            container.wait()
            container.logs()
            return time.monotonic() - started
        finally:
            stdin.close()
            container.remove(force=True)
