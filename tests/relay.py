"""A TCP relay in front of a real Redis that a test cuts as a failing network or host would:
from the first command that holds a marker, every connection is dropped and new ones are
refused, until the test restores it. What is cut is real: the client sees the same errors a
Redis failover gives it."""

from __future__ import annotations

import socket
import threading


class Relay:
    def __init__(self, port: int) -> None:
        self._target = ("127.0.0.1", port)
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._marker: bytes | None = None
        self.cut = threading.Event()
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]

    def cut_at(self, marker: bytes) -> None:
        """Cut at the first command holding `marker` (the command does not reach Redis)."""
        self._marker = marker

    def restore(self) -> None:
        self.cut.clear()
        self._listener = self._listen(self.port)

    def close(self) -> None:
        self._cut()

    def _listen(self, port: int) -> socket.socket:
        listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return listener

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut
                return
            server = socket.create_connection(self._target)
            with self._lock:
                self._open += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, watched: bool) -> None:
        try:
            while data := source.recv(65536):
                if watched and self._marker is not None and self._marker in data:
                    self._marker = None
                    self._cut()
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                _shut(end)

    def _cut(self) -> None:
        with self._lock:
            ends, self._open = self._open, []
        self._listener.close()
        for end in ends:
            _shut(end)
        self.cut.set()


def _shut(end: socket.socket) -> None:
    try:
        end.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    end.close()
