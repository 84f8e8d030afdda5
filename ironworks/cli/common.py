"""What every CLI verb shares: the client, error handling, tables."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from ironworks import userconfig as config
from ironworks.client import Client, from_config
from ironworks.errors import IronworksError


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn platform and API errors into a one-line message and exit status 1, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except IronworksError as e:
            raise click.ClickException(str(e)) from e

    return wrapper


def client() -> Client:
    return from_config(config.load())


def print_table(rows: list[dict], columns: list[str]) -> None:
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
