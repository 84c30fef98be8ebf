"""Zip archives (zipped Shapefiles, XLSX workbooks) opened without trusting what they say about themselves.

A zip bomb declares, or quietly inflates to, gigabytes from a few kilobytes. Before anything is extracted the
members are checked against their declared sizes and compression ratio; while extracting, the bytes actually
inflated are counted against the same budget, so a header that lies about a member's size cannot get through.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

from exchange.errors import UnreadableFile
from exchange.limits import ZIP_RATIO_FROM, ImportLimits, megabytes

#: Read and written in pieces of this size, so memory stays bounded whatever a member holds.
CHUNK = 2**20


def open_zip(path: Path) -> zipfile.ZipFile:
    """The archive at `path`, or UnreadableFile when it is not a zip."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(f"{path.name} 不是有效的 zip 压缩包 (not a valid zip file): {exc}") from None


def check_members(members: Iterable[zipfile.ZipInfo], limits: ImportLimits, what: str) -> None:
    """Refuse, before extraction, members that are encrypted, declare too much in total, or compress too well."""
    members = list(members)
    for member in members:
        if member.flag_bits & 0x1:
            raise UnreadableFile(
                f"{what} 中的 {member.filename} 有密码保护，请解除密码后重新压缩 "
                f"(the zip member {member.filename!r} is password-protected: zip it again without a password)"
            )
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise UnreadableFile(
            f"{what} 解压后有 {megabytes(total)}，超过上限 {megabytes(limits.max_unzipped_bytes)}，"
            "可能是压缩炸弹，未解压 (the zip declares "
            f"{megabytes(total)} uncompressed, over the limit of {megabytes(limits.max_unzipped_bytes)}: "
            "a zip bomb? nothing was extracted)"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > ZIP_RATIO_FROM and ratio > limits.max_zip_ratio:
            raise UnreadableFile(
                f"{what} 中的 {member.filename} 压缩比 {ratio:,.0f}:1，超过上限 {limits.max_zip_ratio}:1，"
                "可能是压缩炸弹，未解压 (the zip member "
                f"{member.filename!r} expands {ratio:,.0f} times, over the limit of {limits.max_zip_ratio}: "
                "a zip bomb? nothing was extracted)"
            )


def extract(archive: zipfile.ZipFile, members: dict[zipfile.ZipInfo, Path], limits: ImportLimits, what: str) -> None:
    """Write each member to its path, checked first (check_members) and counted while inflating.

    Each member may inflate to its declared size and all together to `limits.max_unzipped_bytes`; one byte more
    and the extraction stops with UnreadableFile, whatever the headers claimed.
    """
    check_members(members, limits, what)
    budget = limits.max_unzipped_bytes
    for member, target in members.items():
        written = 0
        try:
            with archive.open(member) as source, target.open("wb") as out:
                while chunk := source.read(CHUNK):
                    written += len(chunk)
                    budget -= len(chunk)
                    if written > member.file_size or budget < 0:
                        raise UnreadableFile(
                            f"{what} 中的 {member.filename} 解压后超过其声明的大小，可能是压缩炸弹或文件已损坏 "
                            f"(the zip member {member.filename!r} inflates beyond its declared "
                            f"{megabytes(member.file_size)}: a zip bomb or a damaged zip)"
                        )
                    out.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
            raise UnreadableFile(
                f"{what} 中的 {member.filename} 已损坏或与声明的大小不符 "
                f"(the zip member {member.filename!r} is damaged or does not match its declared size: {exc})"
            ) from None


__all__ = ["CHUNK", "check_members", "extract", "open_zip"]
