"""`ironworks batch`: queue one task per line of a JSON-lines file, optionally with a reduce."""

from __future__ import annotations

import io
import json
import sys

import click

from ironworks.cli.common import client, friendly_errors
from ironworks.client import Batch, BatchFailed


@click.command()
@click.argument("code_name")
@click.option(
    "--payloads",
    "payloads_file",
    type=click.File("r"),
    required=True,
    help="JSON-lines file: one payload per line ('-' reads stdin).",
)
@click.option("--reduce", "reduce_", default=None, help="Code run once on all the results.")
@click.option("--reduce-on-failure", is_flag=True, help="Run the reduce even if items failed.")
@click.option("--max-concurrency", type=click.IntRange(min=1), default=None)
@click.option("--wait", is_flag=True, help="Wait with a progress bar and print the results.")
@friendly_errors
def batch(
    code_name: str,
    payloads_file: io.TextIOWrapper,
    reduce_: str | None,
    reduce_on_failure: bool,
    max_concurrency: int | None,
    wait: bool,
) -> None:
    """Queue a batch of CODE_NAME tasks and print its id (with --wait: its results as JSON
    lines, or the reduce's result; exit status 1 if items failed)."""
    job = Batch(
        code_name,
        read_payloads(payloads_file),
        reduce=reduce_,
        reduce_on_failure=reduce_on_failure,
        max_concurrency=max_concurrency,
        client=client(),
    )
    if not wait:
        click.echo(job.submit())
        return
    with click.progressbar(length=len(job.payloads), label="items", file=sys.stderr) as bar:
        try:
            outcome = job.run(on_poll=lambda b: bar.update(b["done"] - bar.pos))
        except BatchFailed as e:
            raise click.ClickException(str(e)) from e
    lines = [outcome] if reduce_ else outcome
    for line in lines:
        click.echo(json.dumps(line))


def read_payloads(lines: io.TextIOWrapper) -> list[object]:
    """Each non-blank line is a JSON value (a string payload is a JSON string)."""
    payloads = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            payloads.append(json.loads(line))
        except ValueError as e:
            hint = "--payloads"
            raise click.BadParameter(f"line {number} is not JSON: {e}", param_hint=hint) from e
    if not payloads:
        raise click.BadParameter("the file holds no payload", param_hint="--payloads")
    return payloads
