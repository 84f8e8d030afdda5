"""`ironworks dev`: the whole platform on one machine, in the foreground, stopped by Ctrl-C."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets as stdlib_secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import requests

from ironworks import secrets
from ironworks import userconfig as config

# How long a role has to stop after SIGTERM; the runner drains first (RUNNER_DRAIN_S), then
# removes its containers, which takes the engine a while when hundreds were running.
STOP_GRACE_S = 10
RUNNER_STOP_GRACE_S = 90
RUNNER_DRAIN_S = 5
# After a second signal: the runner hands back at once and removes its containers.
HURRIED_GRACE_S = 30
# A role that exits is started again after a backoff (doubling from RESTART_DELAY_S up to
# MAX_RESTART_DELAY_S); one that exited within FAST_CRASH_S of starting MAX_FAST_CRASHES
# times in a row is broken, not unlucky, and `ironworks dev` stops with an error.
RESTART_DELAY_S = 0.5
MAX_RESTART_DELAY_S = 15.0
FAST_CRASH_S = 30.0
MAX_FAST_CRASHES = 5


@dataclass
class Role:
    """One process of the platform that `ironworks dev` keeps running."""

    name: str
    args: list[str]
    env: dict[str, str] | None = None
    grace_s: float = STOP_GRACE_S
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    fast_crashes: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.args, env=self.env, stdout=subprocess.DEVNULL if self.name == "redis" else None,
            # Its own session: a Ctrl-C reaches `ironworks dev` alone, which stops the roles in
            # order; and if `ironworks dev` itself is killed, each role is told to stop.
            start_new_session=True, preexec_fn=_stop_with_parent,
        )  # fmt: skip
        self.started_at, self.restart_at = time.monotonic(), None

    def check(self, now: float) -> None:
        """Schedule a restart if the process exited; start it when its backoff is over."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                click.echo(f"ironworks dev: starting {self.name} again")
                self.start()
            return
        status = self.process.poll() if self.process else None
        if status is None:
            return
        self.fast_crashes = self.fast_crashes + 1 if now - self.started_at < FAST_CRASH_S else 1
        if self.fast_crashes >= MAX_FAST_CRASHES:
            raise click.ClickException(
                f"{self.name} exited {self.fast_crashes} times in a row within"
                f" {FAST_CRASH_S:.0f} s of starting (last status {status}); stopping the others"
            )
        delay = min(MAX_RESTART_DELAY_S, RESTART_DELAY_S * 2 ** (self.fast_crashes - 1))
        click.echo(
            f"ironworks dev: {self.name} exited (status {status}); restarting in {delay:g} s"
        )
        self.restart_at = now + delay

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@click.command()
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--concurrency", type=int, default=2, show_default=True, help="Runner slots.")
@click.option(
    "--redis-maxmemory", default="1gb", show_default=True,
    help="The memory budget of the Redis it starts; when full, writes are refused (503).",
)  # fmt: skip
def dev(port: int, data_dir: Path | None, concurrency: int, redis_maxmemory: str) -> None:
    """Run Redis (unless REDIS_URL is set), the API, a scheduler and a runner; a role that
    exits is started again. Ctrl-C stops everything (a second Ctrl-C hurries the runner)."""
    data_dir = (data_dir or Path.home() / ".ironworks").expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    roles: list[Role] = []
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            redis_url, redis_role = _redis_role(data_dir, redis_maxmemory)
            roles.append(redis_role)
            redis_role.start()
        admin_token = os.environ.get("IRONWORKS_ADMIN_TOKEN") or _admin_token(data_dir)
        secrets_key = os.environ.get("IRONWORKS_SECRETS_KEY") or _kept(
            data_dir / "secrets_key", secrets.new_key
        )
        laptop_defaults = {
            "IRONWORKS_API_WORKERS": "2",
            "IRONWORKS_RUNNER_DRAIN_S": str(RUNNER_DRAIN_S),  # well within the stop grace
            "IRONWORKS_SCHEDULER_METRICS_BIND": f"127.0.0.1:{free_port()}",
            "IRONWORKS_RUNNER_METRICS_BIND": f"127.0.0.1:{free_port()}",
        }
        env = (
            laptop_defaults
            | os.environ
            | {
                "IRONWORKS_REDIS_URL": redis_url,
                "IRONWORKS_ADMIN_TOKEN": admin_token,
                "IRONWORKS_SECRETS_KEY": secrets_key,
                "IRONWORKS_DATA_DIR": str(data_dir),
                "IRONWORKS_API_BIND": f"127.0.0.1:{port}",
            }
        )
        env.pop("REDIS_URL", None)
        for name in ("api", "scheduler", "runner"):
            args = [sys.executable, "-m", name]
            if name == "runner":
                args += ["--concurrency", str(concurrency)]
            grace_s = RUNNER_STOP_GRACE_S if name == "runner" else STOP_GRACE_S
            roles.append(Role(name, args, env, grace_s))
            roles[-1].start()
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, [r.process for r in roles if r.name in ("redis", "api") and r.process])
        config.save(url=url, admin_token=admin_token)
        click.echo(f"Ironworks is running at {url}")
        click.echo(f"Admin token: {admin_token}")
        click.echo("Next: ironworks project create NAME   (Ctrl-C stops everything)")
        _supervise_until_interrupted(roles)
    finally:
        _stop(roles)


def _stop_with_parent() -> None:
    """In the child, before exec: SIGTERM when `ironworks dev` dies (Linux's PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def _redis_role(data_dir: Path, maxmemory: str) -> tuple[str, Role]:
    """A Redis of its own, with an append-only file: started again after a crash on the same
    port and data, it has every write it acknowledged (fsync each second)."""
    server = shutil.which("redis-server")
    if server is None:
        raise click.ClickException("redis-server not found: install it or set REDIS_URL")
    port = free_port()
    args = [
        server,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        # The AOF is what keeps its writes; Redis's default RDB snapshots besides (a fork
        # and a full dump a minute under load) took a core of two while the API wrote.
        "--save", "",
        "--maxmemory", maxmemory,
        "--maxmemory-policy", "noeviction",
    ]  # fmt: skip
    return f"redis://127.0.0.1:{port}/0", Role("redis", args)


def _admin_token(data_dir: Path) -> str:
    return _kept(data_dir / "admin_token", lambda: stdlib_secrets.token_urlsafe(32))


def _kept(path: Path, make: Callable[[], str]) -> str:
    """A value made once and kept in the data directory, readable by its owner only."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


_GIVEN: set[int] = set()  # the ports free_port has handed out in this process


def free_port() -> int:
    """A port free now, for a process about to start and bind it, and never one this process
    was given before: bind(0)-then-close hands the same port out again soon (3 repeats in 300
    calls on Linux), so two of the processes started could be given one port."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def wait_healthy(url: str, processes: list[subprocess.Popen], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise click.ClickException("a platform process exited during start-up; see above")
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or too busy to answer within a second
        time.sleep(0.2)
    raise click.ClickException(f"the API did not become healthy at {url} in {timeout_s} s")


def _supervise_until_interrupted(roles: list[Role]) -> None:
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C when a supervisor asks
    try:
        while True:
            for role in roles:
                role.check(time.monotonic())
            time.sleep(0.2)
    except KeyboardInterrupt:
        click.echo("\nStopping… (Ctrl-C again hands running tasks back at once)")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _stop(roles: list[Role]) -> None:
    """Stop in reverse start order (runner first, Redis last), politely, then firmly. A signal
    meanwhile does not cut this short: it is passed on to the role stopping (the runner then
    hands its tasks back at once) and every role still stops."""
    signals: list[int] = []
    previous = {sig: signal.signal(sig, lambda n, _: signals.append(n)) for sig in STOP_SIGNALS}
    try:
        for role in reversed(roles):
            if role.alive():
                _stop_one(role, signals)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stop_one(role: Role, signals: list[int]) -> None:
    process = role.process
    if process is None:  # never started
        return
    process.send_signal(signal.SIGTERM)
    deadline, passed_on = time.monotonic() + role.grace_s, len(signals)
    while process.poll() is None and time.monotonic() < deadline:
        if len(signals) > passed_on:  # hurry: tell the role, and wait less
            passed_on = len(signals)
            process.send_signal(signal.SIGTERM)
            deadline = min(deadline, time.monotonic() + HURRIED_GRACE_S)
        time.sleep(0.1)
    if process.poll() is None:
        click.echo(f"ironworks dev: {role.name} did not stop in time; killed")
        process.kill()
    process.wait()
