"""How a task's run ended, as the runner records it, and the outcomes decided before any
container starts (a secret the task can no longer have, Redis failing before the start)."""

from __future__ import annotations

from dataclasses import dataclass

from ironworks import secrets
from ironworks.model import Code, Task, TaskStatus
from ironworks.settings import Settings
from ironworks.store import Store


@dataclass(frozen=True)
class Outcome:
    status: TaskStatus
    exit_code: int | None = None
    msg: str = ""
    result: str | None = None
    usage: dict[str, float] | None = None


class Unstarted(Exception):
    """Redis could not be reached before the task's container started: none of it has run."""


def secrets_for(
    store: Store, settings: Settings, task: Task, code: Code
) -> dict[str, str] | Outcome:
    """The values of the code's secrets, opened for this task; an error outcome, before any
    container starts, for one deleted since the upload or one this runner cannot open."""
    sealed = store.secrets.sealed(task.project_id, code.secrets)
    missing = [name for name, value in sealed.items() if value is None]
    if missing:
        return Outcome(TaskStatus.ERROR, msg=(
            f"secret {', '.join(missing)} no longer exists in the project (deleted after the"
            " code was uploaded): set it again, or upload the code without it"
        ))  # fmt: skip
    vault = secrets.vault_for(settings.secrets_key)
    try:
        return {name: vault.open(task.project_id, name, value)
                for name, value in sealed.items() if value is not None}  # fmt: skip
    except secrets.SecretsUnavailable as e:
        return Outcome(TaskStatus.ERROR, msg=f"platform error: {e}")
