"""Fixtures that start the real things: a Redis server, the Flask app, the whole platform
(the harness itself is tests/harness.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import redis

from ironworks.settings import Settings
from ironworks.store import Store
from tests.harness import (
    ADMIN_TOKEN,
    DATABASES,
    SECRETS_KEY,
    Platform,
    free_port,
    fresh_database,
    redis_answers,
    wait_until,
)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """One real redis-server for the session, on a free port; tests use separate databases."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (make setup installs it)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(workdir),
            "--databases",
            str(DATABASES),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    wait_until(lambda: redis_answers(client), what="redis-server to start")
    yield f"redis://127.0.0.1:{port}"
    client.close()
    process.terminate()
    process.wait()


@pytest.fixture
def settings(redis_server: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings on database 1, flushed for each test."""
    url = f"{redis_server}/1"
    redis.Redis.from_url(url).flushdb()
    yield Settings(
        redis_url=url, admin_token=ADMIN_TOKEN, data_dir=tmp_path / "data", secrets_key=SECRETS_KEY
    )


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store.connect(settings)


@pytest.fixture
def api(settings: Settings, store: Store):
    from api import create_app

    return create_app(settings, store).test_client()


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    """The Docker engine tests sample to see what really runs (`docker ps` labels, stats)."""
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="module")
def platform(redis_server: str, tmp_path_factory) -> Iterator[Platform]:
    """The whole platform on its own Redis database, shared by the tests of one module."""
    running = Platform(fresh_database(redis_server), tmp_path_factory.mktemp("platform"))
    yield running.start_all()
    running.stop()
    # After the module's last test, so a traceback any of them caused is seen.
    log = running.log_text()
    assert "Traceback" not in log, log[max(log.index("Traceback") - 2000, 0) :][:6000]


@pytest.fixture
def fresh_platform(redis_server: str, tmp_path) -> Iterator[Platform]:
    """A platform on its own database with nothing started: the test starts the roles."""
    platform = Platform(fresh_database(redis_server), tmp_path)
    yield platform
    platform.stop()
