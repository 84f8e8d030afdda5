"""Content-addressed blob store on a local directory (code archives)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO

from ironworks.errors import NotFound, TooLarge

CHUNK = 1024 * 1024


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, stream: IO[bytes], max_bytes: int) -> tuple[str, int]:
        """Copy `stream` in; returns (sha256, size). Same content, same blob, stored once."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"archive is larger than {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            sha = digest.hexdigest()
            os.replace(tmp, self.path(sha))
            return sha, size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def path(self, sha256: str) -> Path:
        return self.root / sha256

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def existing_path(self, sha256: str) -> Path:
        path = self.path(sha256)
        if not path.is_file():
            raise NotFound(f"blob {sha256} not found")
        return path
