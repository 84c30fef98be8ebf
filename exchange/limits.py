"""How much one import may ask of the service: bounds checked before the costly step each protects.

Township staff send whatever files they have, and a file can be far larger, deeper or more detailed than any
layer needs (a whole province's boundaries, a GPS track of a million points, a corrupted or malicious upload).
Each bound is checked cheaply first and refused with the size found and the limit, so such a file fails fast
with a message instead of exhausting memory, the disk or the process's stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exchange.errors import UnreadableFile
from onemap.settings import MAX_IMPORT_BYTES, MAX_IMPORT_VERTICES

if TYPE_CHECKING:
    from onemap.settings import Settings

#: A zip member may expand to this many times its compressed size (real Shapefiles and XLSX stay well under 50;
#: zip bombs reach 1000); members below ZIP_RATIO_FROM bytes are not held to it.
MAX_ZIP_RATIO = 200
ZIP_RATIO_FROM = 2**20

#: Arrays and objects nested deeper than this are refused: GeoJSON nests 8 levels, a properties value a few more.
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on one import; the service takes them from its settings with `from_settings`."""

    #: The file as sent (for a bare .shp, with its .dbf and other parts).
    max_bytes: int = MAX_IMPORT_BYTES
    #: Vertices of one feature, checked before validity, repair and reprojection, whose cost grows with them.
    max_vertices: int = MAX_IMPORT_VERTICES
    #: Everything read out of a zip (a zipped Shapefile's parts, an XLSX's sheets), as declared and as inflated.
    max_unzipped_bytes: int = 4 * MAX_IMPORT_BYTES
    max_zip_ratio: int = MAX_ZIP_RATIO
    max_json_depth: int = MAX_JSON_DEPTH

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportLimits:
        """The limits a service or CLI configured with `settings` (ONEMAP_MAX_IMPORT_*) applies."""
        return cls(
            max_bytes=settings.max_import_bytes,
            max_vertices=settings.max_import_vertices,
            max_unzipped_bytes=4 * settings.max_import_bytes,
        )


DEFAULT_LIMITS = ImportLimits()


def megabytes(size: int) -> str:
    """A byte count as people read file sizes (1 MB = 2**20 bytes; KB below a megabyte)."""
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.0f} KB"


def check_file_size(name: str, size: int, limits: ImportLimits) -> None:
    """Refuse a file over `limits.max_bytes` before a byte of it is read."""
    if size > limits.max_bytes:
        raise UnreadableFile(
            f"文件 {name} 大小 {megabytes(size)}，超过导入上限 {megabytes(limits.max_bytes)}：请分批导入，"
            "或请管理员调整 ONEMAP_MAX_IMPORT_BYTES "
            f"(the file is {megabytes(size)}, over the import limit of {megabytes(limits.max_bytes)}: "
            "split it, or ask the administrator to raise ONEMAP_MAX_IMPORT_BYTES)"
        )


def vertex_problem(count: int, limits: ImportLimits) -> str | None:
    """Why a feature with `count` vertices is refused, or None when it is within the limit."""
    if count <= limits.max_vertices:
        return None
    return (
        f"几何有 {count:,} 个顶点，超过每个要素 {limits.max_vertices:,} 个的上限：请在 GIS 软件中简化或拆分 "
        f"(the geometry has {count:,} vertices, over the limit of {limits.max_vertices:,} per feature: "
        "simplify or split it)"
    )


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def json_too_deep(text: str, limit: int) -> bool:
    """Whether the JSON `text` nests arrays and objects more than `limit` levels deep, found without parsing.

    Python's parser recurses once per level and fails with RecursionError past about a thousand. Here strings are
    dropped and then the innermost bracket pairs peeled off, one level per regular-expression pass: at most
    `limit` + 1 passes, so it costs a few scans of the file and never recurses. Brackets left unbalanced count
    as levels (a file of ten thousand "[" is deep too); other syntax errors are left to the parser to report.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for level in range(limit + 1):
        peeled = _INNERMOST.sub("", brackets)
        if peeled == brackets:
            return level + brackets.count("[") + brackets.count("{") > limit
        brackets = peeled
    return True


def nesting_problem(what: str, limit: int) -> str:
    """The message for JSON nested deeper than `limit` in `what` (a file name; empty for a cell)."""
    return (
        f"{what + ' 的 ' if what else ''}JSON 嵌套超过 {limit} 层，不是正常的地理数据 "
        f"(the JSON is nested more than {limit} levels deep: not ordinary GeoJSON or attribute data)"
    )


__all__ = [
    "DEFAULT_LIMITS",
    "MAX_JSON_DEPTH",
    "MAX_ZIP_RATIO",
    "ZIP_RATIO_FROM",
    "ImportLimits",
    "check_file_size",
    "json_too_deep",
    "megabytes",
    "nesting_problem",
    "vertex_problem",
]
