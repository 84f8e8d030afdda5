"""Runtime stacks: the images `images/build.sh` makes, and IronWorker's legacy runtimes."""

from __future__ import annotations

from ironworks.errors import BadRequest

STACKS: dict[str, str] = {
    "sh": "ironworks/stack-sh:latest",
    "python": "ironworks/stack-python:latest",
    "node": "ironworks/stack-node:latest",
    "ruby": "ironworks/stack-ruby:latest",
}

# IronWorker's `runtime` + `file_name` upload form: (stack, interpreter) per runtime.
LEGACY_RUNTIMES: dict[str, tuple[str, str]] = {
    "python": ("python", "python3"),
    "sh": ("sh", "sh"),
    "binary": ("sh", "sh"),
    "node": ("node", "node"),
    "ruby": ("ruby", "ruby"),
}


def image_for(stack: str) -> str:
    return STACKS[stack]


def legacy_runtime(runtime: str, file_name: str) -> tuple[str, str]:
    try:
        stack, interpreter = LEGACY_RUNTIMES[runtime]
    except KeyError as e:
        known = ", ".join(sorted(LEGACY_RUNTIMES))
        raise BadRequest(f"unknown runtime {runtime!r}; known: {known}") from e
    return stack, f"{interpreter} {file_name}"
