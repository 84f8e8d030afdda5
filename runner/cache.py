"""Code revisions extracted once per archive checksum and shared read-only by its tasks."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from ironworks import archive
from ironworks.archive import ArchiveLimits
from ironworks.blobs import LocalBlobStore
from ironworks.errors import IronworksError


class CorruptArchive(IronworksError):
    """The stored archive does not match the checksum recorded at upload."""


class CodeCache:
    def __init__(self, root: Path, blobs: LocalBlobStore, limits: ArchiveLimits) -> None:
        self._root, self._blobs, self._limits = root, blobs, limits

    def directory(self, sha256: str) -> Path:
        """The extracted code for an archive, extracting it on first use.

        Extraction goes to a temporary directory renamed into place, so concurrent tasks of
        one revision never see a half-extracted tree.
        """
        final = self._root / sha256
        if final.is_dir():
            return final
        self._root.mkdir(parents=True, exist_ok=True)
        source = self._blobs.existing_path(sha256)
        if _sha256(source) != sha256:
            raise CorruptArchive(f"archive {sha256} does not match its checksum")
        tmp = Path(tempfile.mkdtemp(dir=self._root, prefix=".extract-"))
        try:
            archive.extract(source, tmp, self._limits)
            tmp.chmod(0o755)
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # lost a race with another task of this revision: fine
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
