"""`ironworks secret`: a project's write-only secrets; and, for the operator, the key that
seals them at rest."""

from __future__ import annotations

import sys

import click

from ironworks import secrets
from ironworks.cli.common import client, friendly_errors, print_table


@click.group()
def secret() -> None:
    """Manage the project's secrets: values go in, only names come out."""


@secret.command("set")
@click.argument("name")
@friendly_errors
def secret_set(name: str) -> None:
    """Set secret NAME from standard input, or from a prompt on a terminal (never from the
    command line, where other users and the shell's history would see it)."""
    if sys.stdin.isatty():
        value = click.prompt(f"Value of {name}", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value  # `echo x |` adds one
    if not value:
        raise click.ClickException("empty value: give it on standard input or at the prompt")
    done = client().set_secret(name, value)
    click.echo(f"{'Created' if done['created'] else 'Updated'} secret {name}")


@secret.command("ls")
@friendly_errors
def secret_ls() -> None:
    """List the project's secrets: names and when each was set."""
    print_table(client().secrets(), ["name", "updated_at"])


@secret.command("rm")
@click.argument("name")
@friendly_errors
def secret_rm(name: str) -> None:
    """Delete secret NAME (tasks of codes that name it then end with an error)."""
    click.echo(client().delete_secret(name)["msg"])


@secret.command("new-key")
def secret_new_key() -> None:
    """Print a new key for IRONWORKS_SECRETS_KEY (operator)."""
    click.echo(secrets.new_key())


@secret.command("rotate-key")
@friendly_errors
def secret_rotate_key() -> None:
    """Seal every stored secret again with the first key of IRONWORKS_SECRETS_KEY (operator;
    reads the servers' settings: IRONWORKS_REDIS_URL, IRONWORKS_SECRETS_KEY).

    To rotate: put the new key first, keep the old one after it (`NEW,OLD`) on every role,
    run this, then drop the old key."""
    from ironworks.settings import Settings
    from ironworks.store import Store

    settings = Settings.from_env()
    store = Store.connect(settings)
    resealed = secrets.rotate(store, secrets.vault_for(settings.secrets_key))
    click.echo(f"Sealed {resealed} secret(s) with the current key")
