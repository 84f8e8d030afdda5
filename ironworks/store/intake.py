"""What queueing reads before it writes: the codes the new tasks name, from Redis or as
this process read them lately (checked unchanged by the write: add_tasks.lua)."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ironworks.errors import NotFound
from ironworks.model import Code
from ironworks.store.codes import code_of_project


@dataclass(frozen=True)
class Intake:
    found: dict[str, Code | None]  # by name; None: the project has no code of that name
    first_seq: int  # the first of the seqs reserved (1 when the write reserves them)
    token_owner: str | None = None  # the project of the token looked up, if one was
    # Codes read earlier, to be found unchanged by the write: (name, id, digest) each.
    checks: tuple[tuple[str, str, str], ...] = ()

    def code(self, name: str) -> Code:
        """The code of that name, or a 404."""
        if (code := self.found[name]) is None:
            raise NotFound(f"Code {name!r} not found")
        return code


@dataclass(frozen=True)
class Checked:
    """What enqueue_checked did: the tasks stored, their seqs each the one it was made with
    plus `offset`; or nothing written (offset None). And the project of the token looked up
    (as Intake's)."""

    offset: int | None
    token_owner: str | None


@functools.lru_cache(maxsize=256)
def code_read(flat: tuple[str, ...], project_id: str) -> tuple[Code, str | None]:
    """A code as intake read it (its hash, flat), decoded once for as long as it is unchanged,
    and its digest: every request that queues a code's tasks reads the same hash, and
    decoding it cost about 4% of a one-task request's CPU. The key is the whole hash: any
    change is a miss."""
    code = code_of_project(dict(zip(flat[::2], flat[1::2], strict=True)), project_id)
    return code, code_digest(flat)


def code_digest(flat: Sequence[str]) -> str | None:
    """A code's hash (HGETALL's flat list) as add_tasks.lua digests it: its values joined by
    NULs after their count, then SHA-1; None for a hash with a NUL in a value, whose digest
    could read like another's. Two hashes free of NULs with the same count and the same
    joined text are the same hash, and a NUL in a changed one adds to the joined text's
    NULs: no change reads as none."""
    if any("\0" in value for value in flat):
        return None
    return hashlib.sha1(f"{len(flat)}\0{chr(0).join(flat)}".encode()).hexdigest()


class KnownCodes:
    """The codes this process's intakes read lately, by project and name, each with its
    digest: a request naming them again makes its tasks from them without reading them first,
    and add_tasks.lua checks they are unchanged. At most MAX, the oldest forgotten first."""

    MAX = 1024

    def __init__(self) -> None:
        self._codes: dict[tuple[str, str], tuple[Code, str]] = {}
        self._lock = threading.Lock()

    def keep(self, project_id: str, read: dict[str, tuple[Code, str | None] | None]) -> None:
        """Keep what was read of these names (None: no such code, forgotten; a code with no
        digest is not kept either)."""
        with self._lock:
            for name, code in read.items():
                self._codes.pop((project_id, name), None)  # re-added last: the newest
                if code is not None and code[1] is not None:
                    self._codes[(project_id, name)] = (code[0], code[1])
            while len(self._codes) > self.MAX:
                del self._codes[next(iter(self._codes))]

    def intake(self, project_id: str, names: Sequence[str]) -> Intake | None:
        found: dict[str, Code | None] = {}
        checks = []
        for name in dict.fromkeys(names):
            if (known := self._codes.get((project_id, name))) is None:
                return None
            found[name] = known[0]
            checks.append((name, known[0].id, known[1]))
        return Intake(found, 1, checks=tuple(checks))
