"""Every Docker call Ironworks makes: the Docker implementation of runner/engine.py."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import docker
import docker.errors
import requests
from docker.models.containers import Container

from runner import log_stream, taskdir
from runner.engine import DriverError, Exit
from runner.network import (
    NO_IPV6,
    ensure_project_network,
    ensure_task_network,
    remove_unused_project_networks,
)
from runner.spec import (
    CODE_DIR,
    LABEL_INSTANCE,
    LABEL_RUNNER,
    WORKER_USER,
    ContainerSpec,
    claimed_name,
    owner_of,
)


class TaskContainer:
    def __init__(self, container: Container) -> None:
        self._c = container

    @property
    def id(self) -> str:
        return self._c.id

    @property
    def labels(self) -> dict[str, str]:
        return self._c.labels

    def owner(self) -> tuple[str, int] | None:
        return owner_of(self.labels, self._c.name or "")

    def is_running(self) -> bool:
        """Asked of the engine now, as the contract says (the handle's own status is what it
        was when the handle was made: "created", for one this runner just started)."""
        try:
            self._c.reload()
        except docker.errors.NotFound:
            return False
        except docker.errors.DockerException as e:
            raise DriverError(f"cannot inspect container {self.id[:12]}: {e}") from e
        return self._c.status == "running"

    def hand_off(self, task_script: bytes, task_id: str, attempt: int) -> None:
        """Give a waiting warm container its task: write it to its stdin and close it, which
        starts the task. One prestarted for no task in particular is also named after the task
        (what owner() reads); the engine renames it while the task starts."""
        try:
            if self.owner() is not None:  # made for this very task: its labels say so
                self._write_stdin(task_script)
                return
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rename") as aside:
                renamed = aside.submit(self._c.rename, claimed_name(task_id, attempt))
                self._write_stdin(task_script)
                renamed.result()
        except (docker.errors.DockerException, OSError) as e:
            raise DriverError(f"cannot hand the task to its container: {e}") from e

    def _write_stdin(self, data: bytes) -> None:
        stream = self._c.attach_socket(params={"stdin": 1, "stream": 1})
        sock = getattr(stream, "_sock", stream)
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # end of stdin: the entrypoint goes on
        finally:
            stream.close()  # a SocketIO over the socket: closing it leaves the socket open
            sock.close()

    def output(self) -> Iterator[list[bytes]]:
        """Lazy: the engine is asked on the first read, by whoever reads (the log pump's
        thread). Seen with Docker 20.10: the live stream can end before the output does."""
        return self._log_frames(follow=1)

    def tail_output(self, lines: int | None) -> Iterator[list[bytes]]:
        return self._log_frames(tail="all" if lines is None else lines)

    def _log_frames(self, **params: object) -> Iterator[list[bytes]]:
        api = self._c.client.api
        url = api._url("/containers/{0}/logs", self.id)
        params |= {"stdout": 1, "stderr": 1, "timestamps": 1}
        try:
            response = api._get(url, params=params, stream=True)
            # As docker-py does for a stream: the socket's timeout would end a quiet task's.
            api._disable_socket_timeout(api._get_raw_response_socket(response))
        except (docker.errors.DockerException, requests.RequestException) as e:
            raise DriverError(f"cannot read the task's output: {e}") from e
        with response:
            # http.client's buffered reader: read1 returns what is buffered, or one read.
            reader = response.raw._fp.fp
            blocks: Iterable[bytes] = iter(lambda: reader.read1(log_stream.BLOCK), b"")
            if response.raw._fp.chunked:
                blocks = log_stream.dechunked(blocks)
            yield from log_stream.frames(blocks)

    def usage(self) -> tuple[int, float] | None:
        """(peak memory bytes, CPU seconds) so far, or None once the container is gone."""
        try:
            stats = self._c.stats(stream=False, one_shot=True)
        except (docker.errors.APIError, requests.RequestException, ValueError):
            return None  # gone, or going: the engine answered with nothing to read
        memory = stats.get("memory_stats") or {}
        cpu = (stats.get("cpu_stats") or {}).get("cpu_usage") or {}
        if not memory:
            return None  # stopped: the engine reports nothing any more
        peak = memory.get("max_usage") or memory.get("usage") or 0
        return int(peak), cpu.get("total_usage", 0) / 1e9

    def kill(self) -> None:
        try:
            self._c.kill()
        except docker.errors.APIError:
            pass  # already exited: nothing left to stop

    def wait(self) -> Exit:
        try:
            status = self._c.wait()
            self._c.reload()
        except docker.errors.NotFound as e:
            raise DriverError(f"the container is gone: {e}") from e
        return Exit(int(status["StatusCode"]), bool(self._c.attrs["State"].get("OOMKilled")))

    def remove(self) -> None:
        try:
            self._c.remove(force=True)
        except docker.errors.NotFound:
            pass  # already gone
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: another removal of it is already in progress
                raise


class DockerDriver:
    def __init__(self, connections: int = 10) -> None:
        """`connections`: how many calls may be in flight at once (each running task holds
        two long ones, its wait and its log stream, and makes short ones)."""
        try:
            self._client = docker.from_env(max_pool_size=connections)
        except docker.errors.DockerException as e:
            raise DriverError(f"cannot reach the Docker engine: {e}") from e

    def close(self) -> None:
        self._client.close()

    def ping(self) -> None:
        try:
            self._client.ping()
        except docker.errors.DockerException as e:
            raise DriverError(f"Docker engine is not answering: {e}") from e

    def prepare_task_network(self) -> None:
        ensure_task_network(self._client)

    def task_network_for(self, instance_id: str, project_id: str, grants: list[str]) -> str:
        return ensure_project_network(self._client, instance_id, project_id, grants)

    def remove_unused_networks(self, instance_id: str) -> int:
        return remove_unused_project_networks(self._client, instance_id)

    def start(self, spec: ContainerSpec) -> TaskContainer:
        try:
            container = self._client.containers.create(**_create_args(spec))
        except docker.errors.DockerException as e:
            raise DriverError(f"cannot create the task's container: {e}") from e
        try:
            container.start()
        except docker.errors.DockerException as e:
            container.remove(force=True)
            raise DriverError(f"cannot start the task's container: {e}") from e
        return TaskContainer(container)

    def get(self, container_id: str) -> TaskContainer | None:
        try:
            return TaskContainer(self._client.containers.get(container_id))
        except docker.errors.NotFound:
            return None
        except docker.errors.DockerException as e:
            raise DriverError(f"cannot inspect container {container_id[:12]}: {e}") from e

    def containers_of(self, instance_id: str, runner_id: str | None = None) -> list[TaskContainer]:
        """Task containers of one installation (and, if given, one runner), running or not."""
        labels = [f"{LABEL_INSTANCE}={instance_id}"]
        if runner_id is not None:
            labels.append(f"{LABEL_RUNNER}={runner_id}")
        try:
            found = self._client.containers.list(all=True, filters={"label": labels})
        except docker.errors.NotFound:
            return []  # one went away while being listed; the next sweep sees the rest
        except docker.errors.DockerException as e:
            raise DriverError(f"cannot list task containers: {e}") from e
        return [TaskContainer(c) for c in found]


def _create_args(spec: ContainerSpec) -> dict[str, object]:
    """Hardened by default: no network, read-only root, no capabilities, non-root, limits."""
    limits = spec.limits
    parts = taskdir.mounts(spec.task_dir)
    volumes = {str(host): {"bind": target, "mode": "rw"} for host, target in parts.items()}
    if spec.code_dir is not None:
        volumes[str(spec.code_dir)] = {"bind": CODE_DIR, "mode": "ro"}
    return {
        "image": spec.image,
        "command": spec.command,
        "environment": spec.environment,
        "labels": spec.labels,
        "working_dir": CODE_DIR if spec.code_dir is not None else None,
        "user": WORKER_USER,
        "network_mode": spec.network or "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": limits.pids,
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",  # equal to memory: no swap
        "nano_cpus": int(limits.cpus * 1e9),
        "ulimits": [docker.types.Ulimit(name="nofile", soft=limits.nofile, hard=limits.nofile)],
        # The engine's own copy of the output, which output() may need to read again in full
        # up to the log cap: a few times the cap, never unbounded.
        "log_config": docker.types.LogConfig(
            type="json-file", config={"max-size": str(4 * limits.log_max_bytes), "max-file": "1"}
        ),
        "volumes": volumes,
        "stdin_open": spec.stdin_open,
        "sysctls": NO_IPV6 if spec.network else None,
    }
