"""`ironworks dev`: the whole platform on one machine, in the foreground, stopped by Ctrl-C."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import requests

from ironworks.cli import config

STOP_GRACE_S = 10


@click.command()
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--concurrency", type=int, default=2, show_default=True, help="Runner slots.")
@click.option(
    "--redis-maxmemory", default="1gb", show_default=True,
    help="The memory budget of the Redis it starts; when full, writes are refused (503).",
)  # fmt: skip
def dev(port: int, data_dir: Path | None, concurrency: int, redis_maxmemory: str) -> None:
    """Run Redis (unless REDIS_URL is set), the API, a scheduler and a runner."""
    data_dir = (data_dir or Path.home() / ".ironworks").expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen] = []
    try:
        redis_url = os.environ.get("REDIS_URL") or _start_redis(
            data_dir, redis_maxmemory, processes
        )
        admin_token = os.environ.get("IRONWORKS_ADMIN_TOKEN") or _admin_token(data_dir)
        laptop_defaults = {
            "IRONWORKS_API_WORKERS": "2",
            "IRONWORKS_RUNNER_DRAIN_S": "5",  # well within the stop grace below
            "IRONWORKS_SCHEDULER_METRICS_BIND": f"127.0.0.1:{free_port()}",
            "IRONWORKS_RUNNER_METRICS_BIND": f"127.0.0.1:{free_port()}",
        }
        env = (
            laptop_defaults
            | os.environ
            | {
                "IRONWORKS_REDIS_URL": redis_url,
                "IRONWORKS_ADMIN_TOKEN": admin_token,
                "IRONWORKS_DATA_DIR": str(data_dir),
                "IRONWORKS_API_BIND": f"127.0.0.1:{port}",
            }
        )
        env.pop("REDIS_URL", None)
        for role in ("api", "scheduler", "runner"):
            args = [sys.executable, "-m", role]
            if role == "runner":
                args += ["--concurrency", str(concurrency)]
            processes.append(subprocess.Popen(args, env=env))
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, processes)
        config.save(url=url, admin_token=admin_token)
        click.echo(f"Ironworks is running at {url}")
        click.echo(f"Admin token: {admin_token}")
        click.echo("Next: ironworks project create NAME   (Ctrl-C stops everything)")
        _wait_until_interrupted(processes)
    finally:
        _stop(processes)


def _start_redis(data_dir: Path, maxmemory: str, processes: list[subprocess.Popen]) -> str:
    server = shutil.which("redis-server")
    if server is None:
        raise click.ClickException("redis-server not found: install it or set REDIS_URL")
    port = free_port()
    processes.append(
        subprocess.Popen(
            [
                server,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(data_dir),
                "--appendonly", "yes",
                "--maxmemory", maxmemory,
                "--maxmemory-policy", "noeviction",
            ],
            stdout=subprocess.DEVNULL,
        )
    )  # fmt: skip
    return f"redis://127.0.0.1:{port}/0"


def _admin_token(data_dir: Path) -> str:
    path = data_dir / "admin_token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, processes: list[subprocess.Popen], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise click.ClickException("a platform process exited during start-up; see above")
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass  # not listening yet
        time.sleep(0.2)
    raise click.ClickException(f"the API did not become healthy at {url} in {timeout_s} s")


def _wait_until_interrupted(processes: list[subprocess.Popen]) -> None:
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C when a supervisor asks
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        raise click.ClickException("a platform process exited; stopping the others")
    except KeyboardInterrupt:
        click.echo("\nStopping…")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _stop(processes: list[subprocess.Popen]) -> None:
    """Stop in reverse start order (runner first, Redis last), politely, then firmly."""
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
