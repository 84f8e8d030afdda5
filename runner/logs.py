"""Copies a container's output into the task's log while it runs, in batches, so that the log
can be read live; after the container exited, it adds what the engine's live stream missed.

The engine hands output over line by line; one store write per line would cap capture at a
few MB/s, so lines are gathered and written when BATCH_BYTES have come in or when the runner's
supervision loop calls flush() (every second), whichever is first.

Each line comes with its time (`<RFC 3339 time> <text>`, as Docker's timestamps give it): the
pump remembers the last line it wrote (its time, and how many lines had that time), and after
the exit reads the end of the engine's stored output back from there (Docker 20.10's follow
stream can end before a fast writer's last lines), so no line is lost or written twice.
"""

from __future__ import annotations

import codecs
import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from ironworks.secrets import Masker
from ironworks.store import PASSING_ERRORS
from ironworks.store.tasks import LogAppend, TaskStore
from runner.engine import Container

log = logging.getLogger(__name__)

BATCH_BYTES = 256 * 1024
# After the exit, how long the live stream may bring nothing before the rest is read back.
STREAM_END_S = 1.0
ASK_EVERY_BYTES = 1024 * 1024
# Lines read back after the exit at first: the live stream rarely misses more than its end.
TAIL_LINES = 1024


class Cursor:
    """Where a timestamped stream got to: the last line's time, and how many lines had it."""

    def __init__(self) -> None:
        self.stamp = b""
        self.count = 0

    def copy(self) -> Cursor:
        copied = Cursor()
        copied.stamp, copied.count = self.stamp, self.count
        return copied

    def text(self, lines: list[bytes]) -> bytes:
        """The lines without their times; moves the cursor past them. Times are fixed-width,
        so one width serves the block (per line, this runs for every line of every log)."""
        if not lines:
            return b""
        width = lines[0].index(b" ")
        last = lines[-1][:width]
        same = next((n for n, line in enumerate(reversed(lines)) if line[:width] != last), None)
        if same is None:  # every line of the block has the last one's time
            self.count = (self.count if last == self.stamp else 0) + len(lines)
        else:
            self.count = same
        self.stamp = last
        start = width + 1
        return b"".join([line[start:] for line in lines])

    def resume(self, blocks: Iterable[list[bytes]]) -> Iterator[bytes]:
        """Of lines read again that overlap what the cursor passed, the text of those it had
        not passed yet (and passes them). Times are fixed-width, so they compare as bytes."""
        stamp, skip = self.stamp, self.count
        for lines in blocks:
            kept = []
            for line in lines:
                at = line[: len(stamp)]
                if at < stamp or (at == stamp and skip):
                    skip -= at == stamp
                    continue
                kept.append(line)
            yield self.text(kept)


class LogPump(threading.Thread):
    """Streams output to the store until the output ends, the log is full, or the store
    refuses a write (the task is no longer running under this attempt, and a runner that lost
    its task must not touch its log). The engine keeps draining the container either way."""

    def __init__(
        self, container: Container, tasks: TaskStore, task_id: str, attempt: int, max_bytes: int,
        masker: Masker | None = None,
    ) -> None:  # fmt: skip
        super().__init__(name=f"logs-{task_id}", daemon=True)
        self._container, self._tasks = container, tasks
        self._task_id, self._attempt, self._max_bytes = task_id, attempt, max_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # Secret values become *** before anything is stored (ironworks/secrets.py); with
        # none, the text passes as it came, byte for byte.
        self.masker = masker or Masker(())
        self._read = Cursor()  # how far the live stream was read
        self._written = Cursor()  # how far the log holds it: where a second read resumes
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._read_bytes = 0  # all the live stream brought
        self._open = True  # False once the log is full, no longer ours, or finished
        self.full = False  # the log reached its cap: it holds the beginning of the output

    def run(self) -> None:
        for lines in self._container.output():
            with self._lock:
                if not self._open:
                    return
                self._take(self._read.text(lines))
                if self._pending_bytes >= BATCH_BYTES:
                    self._flush_locked()
        with self._lock:
            self._flush_locked()

    def _take(self, text: bytes) -> None:
        self._pending.append(self.masker.feed(self._decoder.decode(text)))
        self._pending_bytes += len(text)
        self._read_bytes += len(text)

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def finish(self, keep_going: Callable[[], bool]) -> None:
        """The container exited: let the live stream end (it lags behind a fast writer, so
        for as long as it still brings output, asking keep_going() each time), write what it
        brought, and take nothing more from it."""
        while self.is_alive() and keep_going():
            before = self._read_bytes
            self.join(STREAM_END_S)
            if self._read_bytes == before:
                break  # stalled: what it has not brought is read back by missed()
        with self._lock:
            self._pending.append(self.masker.flush())  # what was held back for a match
            self._flush_locked()
            self._open = False

    def missed(self, keep_going: Callable[[], bool]) -> str | None:
        """After finish(): the output the engine kept past what the live stream brought, up to
        the cap and one byte more. keep_going() is asked every megabyte; a False stops the read
        (None)."""
        missed = bytearray()
        asked_at = 0
        for text in self._written.resume(self._tail_from_written()):
            missed += text
            if len(missed) > self._max_bytes:
                break
            if len(missed) - asked_at >= ASK_EVERY_BYTES:
                asked_at = len(missed)
                if not keep_going():
                    return None
        return bytes(missed[: self._max_bytes + 1]).decode(errors="replace")

    def _tail_from_written(self) -> Iterable[list[bytes]]:
        """The end of the engine's stored output, from at least the last line written on: the
        last TAIL_LINES lines, or 16 times more while that does not reach back so far. (The
        engine reads a tail backwards from the end, but `since` by decoding every line from
        the start, which took as long as the whole log again.)"""
        stamp, wanted = self._written.stamp, TAIL_LINES
        while stamp:
            blocks = list(self._container.tail_output(wanted))
            got = sum(len(lines) for lines in blocks)
            first = next((lines[0] for lines in blocks if lines), b"")
            if got < wanted or first[: len(stamp)] < stamp:
                return blocks
            wanted *= 16
        return self._container.tail_output(None)

    def _flush_locked(self) -> None:
        text = "".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        if not (self._open and text):
            return
        try:
            result = self._tasks.append_log(self._task_id, self._attempt, text, self._max_bytes)
        except PASSING_ERRORS as e:
            # Writing on after a gap would put lines out of order: the rest is read back from
            # the engine once the task ends (missed()).
            log.warning("task %s: log not written (%s); read back at the end", self._task_id, e)
            self._open = False
            return
        self._written = self._read.copy()
        self._open = result is LogAppend.OK
        self.full = result is LogAppend.FULL
