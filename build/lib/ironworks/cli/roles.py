"""`ironworks api|scheduler|runner`: each platform role in the foreground, as the platform
image runs them (one image, the role as its command)."""

from __future__ import annotations

import click


@click.command("api")
def api_role() -> None:
    """Serve the REST API (gunicorn; IRONWORKS_API_BIND, IRONWORKS_API_WORKERS)."""
    from api.__main__ import main  # imported on use: the CLI alone needs no server code

    main()


@click.command("scheduler")
def scheduler_role() -> None:
    """Admit, dispatch, reap, fire schedules and follow the events stream."""
    from scheduler.__main__ import main

    main()


@click.command("runner")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Task slots.")
def runner_role(concurrency: int | None) -> None:
    """Run tasks in containers on this host's Docker engine."""
    from runner.__main__ import main

    main([] if concurrency is None else ["--concurrency", str(concurrency)])


COMMANDS = (api_role, scheduler_role, runner_role)
