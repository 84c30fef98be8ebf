"""Uploaded photos: read no more than the limit allows, then check that the bytes really are an image."""

from __future__ import annotations

from fastapi import UploadFile

from api.errors import InvalidParameter, PayloadTooLarge
from ledger.photos import Photo, PhotoRejected, check_photo


async def read_photo(file: UploadFile, max_bytes: int) -> tuple[Photo, bytes]:
    """The checked photo and its bytes; 413 past `max_bytes`, 400 when it is not a JPEG, PNG or WebP image."""
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"照片不能超过 {max_bytes / 2**20:.1f} MB (photo too large: at most {max_bytes} bytes; send a smaller one)"
        )
    try:
        return check_photo(data, max_bytes=max_bytes), data
    except PhotoRejected as exc:
        raise InvalidParameter(str(exc)) from None
