"""Code revisions, extracted once per archive checksum and shared read-only by their tasks.

Archives come from the blob directory when the runner shares the API's disk, or over HTTP from
the API (`IRONWORKS_API_URL`), so runners on other hosts need nothing shared but the API. Each
is verified against the checksum recorded at upload, checked again as it is extracted, and
evicted least recently used once the cache outgrows its budget — never while a task uses it
(every user holds a shared lock on the entry; eviction needs an exclusive one).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import requests

from ironworks import archive
from ironworks.archive import ArchiveLimits
from ironworks.errors import IronworksError
from ironworks.model import Code
from ironworks.settings import Settings

CHUNK = 1024 * 1024


class CorruptArchive(IronworksError):
    """The archive does not match the checksum recorded at upload."""


class ArchiveSource(Protocol):
    def fetch(self, code: Code, dest: Path) -> None:
        """Write the code's archive to dest."""


class LocalArchives:
    def __init__(self, blob_dir: Path) -> None:
        self._blob_dir = blob_dir

    def fetch(self, code: Code, dest: Path) -> None:
        shutil.copyfile(self._blob_dir / code.archive_sha256, dest)


class ApiArchives:
    def __init__(self, api_url: str, token: str) -> None:
        self._api_url, self._token = api_url.rstrip("/"), token

    def fetch(self, code: Code, dest: Path) -> None:
        url = f"{self._api_url}/2/projects/{code.project_id}/codes/{code.id}/download"
        headers = {"Authorization": f"OAuth {self._token}"}
        try:
            with requests.get(
                url, params={"revision": code.rev}, headers=headers, stream=True, timeout=60
            ) as response:
                response.raise_for_status()
                with dest.open("wb") as out:
                    for chunk in response.iter_content(CHUNK):
                        out.write(chunk)
        except requests.RequestException as e:
            raise IronworksError(f"cannot download code {code.name} r{code.rev}: {e}") from e


class CodeCache:
    def __init__(
        self, root: Path, source: ArchiveSource, limits: ArchiveLimits, max_bytes: int
    ) -> None:
        self._root, self._source, self._limits, self._max_bytes = root, source, limits, max_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> CodeCache:
        """The runner's cache: archives over HTTP from the API when it is elsewhere."""
        source: ArchiveSource = (
            ApiArchives(settings.api_url, settings.admin_token)
            if settings.api_url
            else LocalArchives(settings.blob_dir)
        )
        limits = ArchiveLimits.from_settings(settings)
        return cls(settings.runner_dir / "code", source, limits, settings.code_cache_max_bytes)

    @contextlib.contextmanager
    def use(self, code: Code) -> Iterator[Path]:
        """The code's extracted directory, held (and safe from eviction) inside the block."""
        self._root.mkdir(parents=True, exist_ok=True)
        entry = self._root / code.archive_sha256
        with _locked(entry, fcntl.LOCK_SH):
            if not entry.is_dir():
                self._extract(code, entry)
            os.utime(entry)  # recency, for eviction
            yield entry
        self._evict()

    def _extract(self, code: Code, entry: Path) -> None:
        """Into a temporary directory renamed into place, so that concurrent tasks of one
        revision never see a half-extracted tree."""
        tmp = Path(tempfile.mkdtemp(dir=self._root, prefix=".extract-"))
        try:
            archive_path = tmp / "archive.zip"
            self._source.fetch(code, archive_path)
            if _sha256(archive_path) != code.archive_sha256:
                raise CorruptArchive(f"archive of {code.name} r{code.rev} fails its checksum")
            tree = tmp / "tree"
            archive.extract(archive_path, tree, self._limits)
            tree.chmod(0o755)
            size = _tree_size(tree)
            try:
                os.rename(tree, entry)
            except OSError:
                if not entry.is_dir():  # lost a race with another task of this revision: fine
                    raise
            _size_file(entry).write_text(str(size))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _evict(self) -> None:
        entries = sorted(
            (p for p in self._root.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
        )
        total = sum(_entry_size(p) for p in entries)
        for entry in entries:  # least recently used first
            if total <= self._max_bytes:
                return
            try:
                with _locked(entry, fcntl.LOCK_EX | fcntl.LOCK_NB):
                    total -= _entry_size(entry)
                    shutil.rmtree(entry)
                    _size_file(entry).unlink(missing_ok=True)
            except BlockingIOError:
                continue  # a task is using it


@contextlib.contextmanager
def _locked(entry: Path, mode: int) -> Iterator[None]:
    with open(entry.with_name(entry.name + ".lock"), "a") as lock:
        fcntl.flock(lock, mode)
        yield


def _size_file(entry: Path) -> Path:
    """Beside the entry, not in it: the entry is what tasks see at /mnt/code."""
    return entry.with_name(entry.name + ".size")


def _entry_size(entry: Path) -> int:
    try:
        return int(_size_file(entry).read_text())
    except (OSError, ValueError):
        return 0


def _tree_size(tree: Path) -> int:
    return sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
