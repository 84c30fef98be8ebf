"""Before/after photos of a hazard (整改前后照片): only real JPEG, PNG or WebP images of sensible size are kept.

The bytes are decoded, not trusted by name or declared type: a renamed document, a truncated file or an image that
would unpack to an enormous bitmap is refused with a message that says what to send instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from PIL import Image, UnidentifiedImageError

KINDS = {"before": "整改前", "after": "整改后"}
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is already more than any phone takes


class PhotoRejected(ValueError):
    """Not an acceptable photo; the message says why."""


@dataclass(frozen=True)
class Photo:
    """A checked image: its media type and size in pixels."""

    media_type: str
    width: int
    height: int


def check_photo(data: bytes, *, max_bytes: int) -> Photo:
    """The photo's real type and size, or PhotoRejected."""
    if not data:
        raise PhotoRejected("文件为空 (the file is empty)")
    if len(data) > max_bytes:
        raise PhotoRejected(f"照片不能超过 {max_bytes // 2**20} MB (photos are limited to {max_bytes // 2**20} MB)")
    try:
        with Image.open(BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            if width * height > MAX_PIXELS:
                raise PhotoRejected(f"图像过大 {width}×{height} (the image is too large: at most 40 megapixels)")
            image.verify()  # structure and checksums
        with Image.open(BytesIO(data)) as image:
            image.load()  # every pixel: a truncated upload fails here
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        # The decoder's own words name Python objects ("<_io.BytesIO object at 0x…>"): the client is told the kind.
        why = "not an image" if isinstance(exc, UnidentifiedImageError) else "damaged or truncated"
        if isinstance(exc, Image.DecompressionBombError):
            why = "too many pixels"
        raise PhotoRejected(f"不是可识别的图片，请上传 JPEG、PNG 或 WebP (not a readable image: {why})") from None
    if kind not in FORMATS:
        raise PhotoRejected(f"不支持 {kind} 格式，请上传 JPEG、PNG 或 WebP (format {kind} is not accepted)")
    return Photo(FORMATS[kind], width, height)
