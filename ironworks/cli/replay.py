"""`ironworks replay`: run one task again, or every task a filter matches, on the code's
current revision."""

from __future__ import annotations

import click

from ironworks.cli.common import client, friendly_errors


@click.command()
@click.argument("task_id", required=False)
@click.option("--payload", default=None, help="With TASK_ID: a new payload for the copy.")
@click.option("--code", "code_name", default=None, help="Replay this code's tasks.")
@click.option("--status", "status_", default=None, help="Replay tasks in this status.")
@click.option("--from", "from_time", default=None, help="Created at or after (ISO 8601).")
@click.option("--to", "to_time", default=None, help="Created at or before (ISO 8601).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=None, help="At most this many.")
@friendly_errors
def replay(task_id: str | None, payload: str | None, **where: str | int | None) -> None:
    """Replay TASK_ID (prints the copy's id), or every task --code/--status match (prints how
    many were queued)."""
    filtered = any(v is not None for v in where.values())
    if bool(task_id) == filtered:
        raise click.UsageError("give a TASK_ID, or --code/--status filters, not both")
    if task_id:
        click.echo(client().replay(task_id, payload)["id"])
        return
    if payload is not None:
        raise click.UsageError("--payload goes with a TASK_ID")
    click.echo(f"Queued {client().replay_where(**where)} replay(s)")
