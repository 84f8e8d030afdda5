"""`ironworks`: upload code, queue tasks, read their logs, and run the platform locally."""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ironworks import userconfig as config
from ironworks.cli import manage, roles
from ironworks.cli.batch import batch
from ironworks.cli.common import client, friendly_errors, print_table
from ironworks.cli.dev import dev
from ironworks.cli.replay import replay
from ironworks.cli.secret import secret
from ironworks.client import Client, from_config

# Archives larger than this get a progress bar while they upload.
PROGRESS_BAR_BYTES = 1024 * 1024


@click.group()
@click.version_option(package_name="ironworks")
def cli() -> None:
    """Ironworks: run your code in isolated Docker containers, on demand."""


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Code name tasks are queued under.")
@click.option("--stack", default="sh", show_default=True, help="Runtime stack (sh, python).")
@click.option("--command", "command_", required=True, help="Shell command run in /mnt/code.")
@click.option("--max-concurrency", type=int, default=None, help="Running tasks at most.")
@click.option("--timeout", type=int, default=None, help="Default task timeout in seconds.")
@click.option("--env", "env_vars", multiple=True, help="KEY=VALUE, repeatable; not for secrets.")
@click.option(
    "--secret",
    "secret_names",
    multiple=True,
    help="A project secret its tasks get as $NAME (ironworks secret set), repeatable.",
)
@click.option("--concurrency-key", default=None, help="Template over the payload: '{customer}'.")
@click.option("--max-concurrency-per-key", type=int, default=None, help="Running per key.")
@click.option("--rate-limit", default=None, help="N/S: at most N tasks start per S seconds.")
@click.option("--rate-limit-per-key", is_flag=True, help="The rate limit holds per key.")
@friendly_errors
def upload(
    directory: Path,
    name: str,
    stack: str,
    command_: str,
    env_vars: tuple[str, ...],
    secret_names: tuple[str, ...],
    rate_limit: str | None,
    rate_limit_per_key: bool,
    **limits: Any,
) -> None:
    """Zip DIRECTORY and upload it as a new revision of code NAME."""
    archive = zip_directory(directory)
    data = {
        "name": name,
        "stack": stack,
        "command": command_,
        "env_vars": parse_env(env_vars),
        "secrets": list(secret_names),
        "rate_limit": parse_rate(rate_limit, rate_limit_per_key),
        **limits,
    }
    size = len(archive)
    with _maybe_progress(size) as advance:
        code = client().upload_code(archive, data, on_progress=advance)
    click.echo(f"Uploaded {code['name']} revision {code['rev']} ({size} bytes, id {code['id']})")


def zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def parse_rate(text: str | None, per_key: bool) -> dict | None:
    """`10/60` → at most 10 starts per 60 s."""
    if text is None:
        return None
    count, _, period = text.partition("/")
    if not (count.isdigit() and period.isdigit()):
        raise click.BadParameter("write N/S, e.g. 10/60", param_hint="--rate-limit")
    return {"count": int(count), "period_s": int(period), "per_key": per_key}


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        env[key] = value
    return env


class _maybe_progress:
    def __init__(self, size: int) -> None:
        self._bar = (
            click.progressbar(length=size, label="Uploading", file=sys.stderr)
            if size > PROGRESS_BAR_BYTES
            else None
        )

    def __enter__(self) -> Callable[[int], None] | None:
        if self._bar is None:
            return None
        return self._bar.__enter__().update

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


@cli.command()
@click.argument("code_name")
@click.option("--payload", default=None, help="Payload string (usually JSON).")
@click.option(
    "--payload-file", type=click.File("r"), default=None, help="Read the payload from a file."
)
@click.option("--priority", type=click.IntRange(0, 2), default=None)
@click.option("--timeout", type=int, default=None, help="Seconds before the task is killed.")
@click.option("--delay", type=int, default=None, help="Seconds to wait before it may run.")
@click.option("--label", default=None)
@click.option("--cluster", default=None)
@click.option("--concurrency-key", default=None, help="The task's key (else the code's).")
@click.option("--depends-on", multiple=True, help="Run after this task completes (repeatable).")
@click.option("--idempotency-key", default=None, help="Queue at most once per key (24 h).")
@click.option("--idempotency-ttl", "idempotency_ttl_s", type=int, default=None,
              help="Seconds the idempotency key holds.")  # fmt: skip
@click.option("--wait", is_flag=True, help="Wait, print the log, exit with the task's exit code.")
@friendly_errors
def queue(
    code_name: str,
    payload: str | None,
    payload_file: io.TextIOWrapper | None,
    wait: bool,
    **options: Any,
) -> None:
    """Queue a task for CODE_NAME and print its id."""
    if payload is not None and payload_file is not None:
        raise click.UsageError("give --payload or --payload-file, not both")
    body = payload_file.read() if payload_file else payload or ""
    api = client()
    task_id = api.queue(code_name, body, **{k: v for k, v in options.items() if v is not None})
    if not wait:
        click.echo(task_id)
        return
    click.echo(f"Queued {task_id}; waiting…", err=True)
    task = api.wait(task_id, on_poll=Spinner() if sys.stderr.isatty() else None)
    click.echo(api.log(task_id), nl=False)
    click.echo(f"Task {task_id}: {task['status']} {task.get('msg') or ''}".rstrip(), err=True)
    sys.exit(exit_status(task))


class Spinner:
    """A spinning mark and the task's status on stderr while --wait waits (terminals only)."""

    FRAMES = "|/-\\"

    def __init__(self) -> None:
        self._frame = 0

    def __call__(self, task: dict) -> None:
        self._frame = (self._frame + 1) % len(self.FRAMES)
        click.echo(f"\r{self.FRAMES[self._frame]} {task['status']:<8}", err=True, nl=False)


def exit_status(task: dict) -> int:
    if task["status"] == "complete":
        return 0
    return task["exit_code"] if task.get("exit_code") else 1


@cli.command()
@click.argument("task_id")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the task ends.")
@friendly_errors
def logs(task_id: str, follow: bool) -> None:
    """Print a task's log."""
    if follow:
        manage.follow(task_id)
    else:
        click.echo(client().log(task_id), nl=False)


@cli.command()
@click.argument("task_id")
@friendly_errors
def status(task_id: str) -> None:
    """Show a task as JSON."""
    click.echo(json.dumps(client().task(task_id), indent=2))


@cli.command()
@click.argument("task_id")
@friendly_errors
def cancel(task_id: str) -> None:
    """Cancel a queued or running task."""
    task = client().cancel(task_id)["task"]
    click.echo(f"Task {task_id}: {task['status']}")


@cli.command()
@click.option("--status", "status_", default=None, help="Only tasks in this status.")
@click.option("--code", "code_name", default=None, help="Only tasks of this code.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@friendly_errors
def tasks(status_: str | None, code_name: str | None, as_json: bool) -> None:
    """List recent tasks, newest first."""
    found = client().tasks(status=status_, code_name=code_name)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    print_table(found, ["id", "code_name", "code_rev", "status", "exit_code", "created_at"])


@cli.group()
def project() -> None:
    """Manage projects (admin)."""


@project.command("create")
@click.argument("name")
@click.option("--max-concurrency", type=int, default=None)
@friendly_errors
def project_create(name: str, max_concurrency: int | None) -> None:
    """Create project NAME and make it the CLI's current project."""
    admin = _admin_client()
    created = admin.create_project(name, max_concurrency)
    saved = config.save(url=admin.url, token=created["token"], project_id=created["id"])
    click.echo(f"Created project {created['name']} ({created['id']})")
    click.echo(f"Token: {created['token']}  (shown once; saved to {saved})")


@project.command("rotate-token")
@friendly_errors
def project_rotate_token() -> None:
    """Give the current project a new token and revoke the old one (at once, everywhere)."""
    api = client()
    token = api.rotate_token()
    saved = config.save(url=api.url, token=token, project_id=api.project_id)
    click.echo(f"New token: {token}  (shown once; saved to {saved})")
    click.echo("The previous token no longer works: update every client that used it.")


@project.group("egress")
def project_egress() -> None:
    """A project's egress grants: private destinations its networked tasks may reach."""


@project_egress.command("set")
@click.argument("project_id")
@click.argument("grants", nargs=-1)
@friendly_errors
def project_egress_set(project_id: str, grants: tuple[str, ...]) -> None:
    """Grant PROJECT_ID's networked tasks GRANTS ('CIDR:PORT', TCP), replacing any earlier
    ones; none removes them all (admin token)."""
    allow = _admin_client().set_egress(project_id, list(grants))
    click.echo(f"Project {project_id} may reach: {', '.join(allow) or 'no private destination'}")


@project_egress.command("show")
@click.argument("project_id", required=False)
@friendly_errors
def project_egress_show(project_id: str | None) -> None:
    """Show a project's egress grants (the current project's by default)."""
    api = client()
    for grant in api.egress(project_id or api.project_id):
        click.echo(grant)


def _admin_client() -> Client:
    settings = config.load()
    admin_token = os.environ.get("IRONWORKS_ADMIN_TOKEN") or settings.get("admin_token", "")
    if not admin_token:
        raise click.ClickException("this needs the admin token: set IRONWORKS_ADMIN_TOKEN")
    return Client(url=from_config(settings).url, token=admin_token)


for command in (dev, batch, replay, secret, *manage.COMMANDS, *roles.COMMANDS):
    cli.add_command(command)
