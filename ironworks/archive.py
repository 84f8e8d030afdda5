"""Zip archives of code: checked before they are accepted and again before extraction."""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ironworks.errors import BadRequest
from ironworks.settings import Settings

ENCRYPTED = 0x1  # general-purpose flag bit 0
# What extraction can read with the standard library alone, whatever else this Python has.
READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int
    max_unpacked_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ArchiveLimits:
        return cls(settings.max_archive_files, settings.max_unpacked_bytes)


def check(path: Path, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """Return the members of a safe archive, or raise BadRequest naming the first bad one."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    # ValueError includes the UnicodeDecodeError of a member flagged UTF-8 whose name is not.
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise BadRequest("file is not a valid zip archive") from e
    if len(members) > limits.max_files:
        raise BadRequest(f"archive has more than {limits.max_files} files")
    total, seen = 0, set()
    for member in members:
        _check_member(member)
        if member.filename in seen:
            raise BadRequest(f"archive member {member.filename!r} appears twice")
        seen.add(member.filename)
        total += member.file_size
        if total > limits.max_unpacked_bytes:
            raise BadRequest(f"archive unpacks to more than {limits.max_unpacked_bytes} bytes")
    return members


def _check_member(member: zipfile.ZipInfo) -> None:
    name = PurePosixPath(member.filename)
    if name.is_absolute() or ".." in name.parts or "\\" in member.filename:
        raise BadRequest(f"archive member {member.filename!r} has an unsafe path")
    if member.flag_bits & ENCRYPTED or member.compress_type not in READABLE_METHODS:
        raise BadRequest(
            f"archive member {member.filename!r} is encrypted or compressed "
            "with an unsupported method (use deflate)"
        )
    mode = member.external_attr >> 16
    kind = stat.S_IFMT(mode)  # 0 when the archiver recorded permissions only
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise BadRequest(f"archive member {member.filename!r} is not a regular file")
    if mode & (stat.S_ISUID | stat.S_ISGID):
        raise BadRequest(f"archive member {member.filename!r} has a setuid/setgid bit")


def extract(path: Path, dest: Path, limits: ArchiveLimits) -> None:
    """Extract a checked archive; files world-readable, executables kept executable."""
    members = check(path, limits)
    with zipfile.ZipFile(path) as archive:
        for member in members:
            target = archive.extract(member, dest)
            executable = (member.external_attr >> 16) & 0o111
            os.chmod(target, 0o755 if member.is_dir() or executable else 0o644)
