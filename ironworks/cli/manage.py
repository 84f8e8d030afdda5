"""CLI verbs for codes, retries, schedules and following logs."""

from __future__ import annotations

import json
import sys
import time

import click

from ironworks.cli.common import client, friendly_errors, print_table
from ironworks.client import TERMINAL

FOLLOW_POLL_S = 0.5


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@friendly_errors
def codes(as_json: bool) -> None:
    """List the project's codes."""
    found = client().codes()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    print_table(found, ["name", "rev", "stack", "command", "max_concurrency", "paused"])


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@friendly_errors
def revisions(name: str, as_json: bool) -> None:
    """List the revisions of code NAME (newest first)."""
    api = client()
    found = api.revisions(api.code_named(name)["id"])
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    print_table(found, ["rev", "current", "command", "archive_size", "created_at"])


@click.command()
@click.argument("name")
@click.argument("revision", type=int)
@friendly_errors
def rollback(name: str, revision: int) -> None:
    """Make REVISION the one newly queued tasks of NAME run."""
    api = client()
    code = api.rollback(api.code_named(name)["id"], revision)
    click.echo(f"{name}: new tasks run revision {code['rev']} ({code['command']})")


@click.command()
@click.argument("name")
@friendly_errors
def pause(name: str) -> None:
    """Stop admitting NAME's tasks (running ones go on)."""
    api = client()
    api.pause(api.code_named(name)["id"])
    click.echo(f"{name}: paused")


@click.command()
@click.argument("name")
@friendly_errors
def resume(name: str) -> None:
    """Admit NAME's tasks again."""
    api = client()
    api.resume(api.code_named(name)["id"])
    click.echo(f"{name}: resumed")


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@friendly_errors
def stats(name: str, as_json: bool) -> None:
    """Tasks of code NAME per status."""
    api = client()
    counts = api.code_stats(api.code_named(name)["id"])
    if as_json:
        click.echo(json.dumps(counts))
        return
    click.echo("  ".join(f"{status}: {n}" for status, n in counts.items()))


@click.command("webhook-url")
@click.argument("name")
@friendly_errors
def webhook_url(name: str) -> None:
    """A URL other services POST to in order to queue a task of NAME (body = payload).

    Its token can queue tasks of NAME and do nothing else; asking again makes a new URL and
    the previous one stops working."""
    click.echo(client().webhook_url(name))


@click.command()
@click.argument("task_id")
@click.option("--delay", type=int, default=None, help="Seconds before it may run.")
@friendly_errors
def retry(task_id: str, delay: int | None) -> None:
    """Queue a finished task again; prints the new task's id."""
    click.echo(client().retry(task_id, delay)["id"])


@click.group()
def schedule() -> None:
    """Create, list and cancel schedules."""


@schedule.command("create")
@click.argument("code_name")
@click.option("--every", "run_every", type=int, default=None, help="Seconds between runs (>= 60).")
@click.option("--cron", default=None, help="5-field cron expression.")
@click.option("--timezone", default=None, help="For --cron, e.g. Europe/Paris (default UTC).")
@click.option("--payload", default=None)
@click.option("--times", "run_times", type=int, default=None, help="Stop after this many runs.")
@click.option("--name", default=None)
@friendly_errors
def schedule_create(code_name: str, **fields: object) -> None:
    """Run CODE_NAME on a schedule; prints the schedule's id."""
    click.echo(client().schedule(code_name, **{k: v for k, v in fields.items() if v is not None}))


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@friendly_errors
def schedule_list(as_json: bool) -> None:
    found = client().schedules()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    print_table(found, ["id", "code_name", "status", "next_start", "run_count", "msg"])


@schedule.command("cancel")
@click.argument("schedule_id")
@friendly_errors
def schedule_cancel(schedule_id: str) -> None:
    click.echo(f"Schedule {schedule_id}: {client().cancel_schedule(schedule_id)['status']}")


def follow(task_id: str) -> None:
    """Print the log as it grows until the task ends."""
    api = client()
    shown = 0
    while True:
        ended = api.task(task_id)["status"] in TERMINAL
        text = api.log(task_id)
        sys.stdout.write(text[shown:])
        sys.stdout.flush()
        shown = len(text)
        if ended:
            return
        time.sleep(FOLLOW_POLL_S)


COMMANDS = [codes, revisions, rollback, pause, resume, stats, retry, schedule, webhook_url]
