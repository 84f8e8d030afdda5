"""Reading Docker's log stream: frames cut anywhere by the reads, and resuming a second read
exactly where the live stream stopped (pure logic; the Docker tests read a real engine)."""

from __future__ import annotations

from runner.log_stream import dechunked, frames
from runner.logs import Cursor


def frame(payload: bytes, stream: int = 1) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_frames_cut_by_the_reads_anywhere_come_out_whole():
    payloads = [b"a" * n for n in (0, 1, 7, 8, 300)]
    stream = b"".join(frame(p, 1 + n % 2) for n, p in enumerate(payloads))
    for size in (1, 3, 8, 9, 1000):
        got = [p for block in frames(cut(stream, size)) for p in block]
        assert got == payloads, size


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_chunked_coding_cut_by_the_reads_anywhere_is_undone():
    chunks = [b"a" * n for n in (1, 15, 16, 300)]
    coded = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\nignored"
    for size in (1, 2, 5, 1000):
        assert b"".join(dechunked(cut(coded, size))) == b"".join(chunks), size


def test_a_read_of_the_tail_resumes_after_the_last_line_passed_even_at_the_same_time():
    t1, t2, t3 = (b"2026-12-02T15:03:27.%09dZ" % n for n in (123456789, 500000000, 600000000))
    cursor = Cursor()
    assert cursor.text([t1 + b" one\n", t2 + b" two\n", t2 + b" three\n"]) == b"one\ntwo\nthree\n"
    tail = [
        [t1 + b" one\n", t2 + b" two\n"],
        [t2 + b" three\n", t2 + b" four\n"],
        [t3 + b" five\n"],
    ]
    assert b"".join(cursor.resume(tail)) == b"four\nfive\n"
    assert b"".join(Cursor().resume(tail)) == b"one\ntwo\nthree\nfour\nfive\n", "from nothing"
