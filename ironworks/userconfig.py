"""The user's config file: where `project create` and `dev` leave the connection details that
the CLI and the SDK (ironworks.client) both read."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ironworks.errors import IronworksError


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "ironworks" / "config.json"


def load() -> dict[str, str]:
    try:
        return json.loads(path().read_text())
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise IronworksError(f"{path()} is not valid JSON; fix or delete it") from e


def save(**values: str) -> Path:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    merged = load() | {k: v for k, v in values.items() if v is not None}
    target.write_text(json.dumps(merged, indent=2) + "\n")
    target.chmod(0o600)  # it holds tokens
    return target
