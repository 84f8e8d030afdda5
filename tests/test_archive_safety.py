"""A hostile-archive corpus: each refused at upload with a 400 naming the offender, and again
at extraction, with nothing written anywhere."""

from __future__ import annotations

import io
import json
import stat
import warnings
import zipfile
from pathlib import Path

import pytest
from urllib3 import encode_multipart_formdata

from ironworks import archive
from ironworks.archive import ArchiveLimits
from ironworks.errors import BadRequest
from tests.helpers import auth, create_project


def zip_of(*members: tuple[str, bytes, int]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as out:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name, on purpose
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            out.writestr(info, data)
    return buffer.getvalue()


FILE = stat.S_IFREG | 0o644


def many_tiny_files(n: int = 100_000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for i in range(n):
            out.writestr(f"f{i}", b"")
    return buffer.getvalue()


def zero_bomb(size: int = 1024**3) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        with out.open("zeros", "w", force_zip64=True) as member:
            chunk = bytes(16 * 1024 * 1024)
            for _ in range(size // len(chunk)):
                member.write(chunk)
    return buffer.getvalue()


CORPUS = {
    "dotdot": (lambda: zip_of(("../evil.sh", b"x", FILE)), "../evil.sh"),
    "absolute": (lambda: zip_of(("/tmp/evil.sh", b"x", FILE)), "/tmp/evil.sh"),
    "symlink": (
        lambda: zip_of(("etc", b"/etc", stat.S_IFLNK | 0o777), ("etc/passwd", b"x", FILE)),
        "'etc'",
    ),
    "device": (lambda: zip_of(("null", b"", stat.S_IFCHR | 0o666)), "'null'"),
    "setuid": (lambda: zip_of(("su", b"x", stat.S_IFREG | 0o4755)), "setuid"),
    "duplicate": (lambda: zip_of(("a", b"1", FILE), ("a", b"2", FILE)), "appears twice"),
    "many files": (many_tiny_files, "more than 10000 files"),
    "zero bomb": (zero_bomb, "unpacks to more than"),
    "not a zip": (lambda: b"PK\x03\x04 but not really", "not a valid zip"),
}


@pytest.mark.parametrize("case", CORPUS)
def test_hostile_archive_is_refused_at_upload_and_nothing_is_kept(api, settings, case):
    make, expected = CORPUS[case]
    project = create_project(api)
    # Encoded here: the test client spools large bodies to a file it never closes.
    body, content_type = encode_multipart_formdata(
        {"data": json.dumps({"name": "x", "command": "true"}), "file": ("a.zip", make())}
    )
    response = api.post(
        f"/2/projects/{project['id']}/codes",
        data=body,
        headers=auth(project["token"]),
        content_type=content_type,
    )
    assert response.status_code == 400 and expected in response.json["msg"], response.json
    assert not Path(settings.blob_dir).exists() or not any(Path(settings.blob_dir).iterdir())
    codes = api.get(f"/2/projects/{project['id']}/codes", headers=auth(project["token"]))
    assert codes.json["codes"] == []


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink", "device", "setuid", "duplicate"])
def test_hostile_archive_is_refused_again_at_extraction(tmp_path, case):
    source, dest = tmp_path / "a.zip", tmp_path / "out"
    source.write_bytes(CORPUS[case][0]())
    dest.mkdir()
    with pytest.raises(BadRequest):
        archive.extract(source, dest, ArchiveLimits(max_files=100, max_unpacked_bytes=10**6))
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil.sh").exists()
