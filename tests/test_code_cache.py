"""The runner's code cache on a real file system: once per revision, verified, LRU-evicted."""

from __future__ import annotations

import io
import time

import pytest

from ironworks.archive import ArchiveLimits
from ironworks.blobs import LocalBlobStore
from ironworks.model import Code
from runner.cache import CodeCache, CorruptArchive, LocalArchives
from tests.harness import zip_files

LIMITS = ArchiveLimits(max_files=100, max_unpacked_bytes=10**7)


@pytest.fixture
def blobs(tmp_path):
    return LocalBlobStore(tmp_path / "blobs")


def stored_code(blobs, files: dict[str, str]) -> Code:
    sha, size = blobs.put(io.BytesIO(zip_files(files)), 10**7)
    return Code("c", "p", "n", 1, "sh", "true", sha, size, time.time())


def test_a_revision_is_extracted_once_and_readable(blobs, tmp_path):
    cache = CodeCache(tmp_path / "cache", LocalArchives(blobs.root), LIMITS, 10**9)
    code = stored_code(blobs, {"run.sh": "echo hi", "lib/x.txt": "x"})
    with cache.use(code) as first:
        assert (first / "run.sh").read_text() == "echo hi"
        assert sorted(p.name for p in first.iterdir()) == ["lib", "run.sh"]
        inode = (first / "run.sh").stat().st_ino
    with cache.use(code) as second:
        assert second == first and (second / "run.sh").stat().st_ino == inode


def test_an_archive_that_fails_its_checksum_is_refused(blobs, tmp_path):
    cache = CodeCache(tmp_path / "cache", LocalArchives(blobs.root), LIMITS, 10**9)
    code = stored_code(blobs, {"run.sh": "echo hi"})
    blobs.path(code.archive_sha256).write_bytes(zip_files({"run.sh": "rm -rf /"}))
    with pytest.raises(CorruptArchive), cache.use(code):
        pass
    assert not (tmp_path / "cache" / code.archive_sha256).exists()


def test_least_recently_used_revisions_go_first_but_never_one_in_use(blobs, tmp_path):
    cache = CodeCache(tmp_path / "cache", LocalArchives(blobs.root), LIMITS, max_bytes=1500)
    old, busy, new = (stored_code(blobs, {"f": str(i) * 1000}) for i in range(3))
    root = tmp_path / "cache"
    with cache.use(old):
        pass
    with cache.use(busy):
        time.sleep(0.01)
        with cache.use(new):
            pass
        # Over budget: unused entries went, oldest first; the one in use stayed.
        assert not (root / old.archive_sha256).exists()
        assert not (root / new.archive_sha256).exists()
        assert (root / busy.archive_sha256 / "f").read_text() == "1" * 1000
