"""How non-JSON bodies are declared: each route says the media types it really sends, so the OpenAPI document,
GIS clients and the API fuzzer agree on what comes back."""

from __future__ import annotations

from typing import Any

from fastapi import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GEOJSON = "application/geo+json"
IMAGES = ("image/jpeg", "image/png", "image/webp")


def sends(*media_types: str, description: str) -> dict[str, Any]:
    """Route keywords for a 200 whose body is one of `media_types` (binary or text, not FastAPI's JSON)."""
    content = {media_type: {"schema": _schema(media_type)} for media_type in media_types}
    return {"response_class": Response, "responses": {200: {"description": description, "content": content}}}


def _schema(media_type: str) -> dict[str, str]:
    if media_type.endswith("json"):
        return {"type": "object"}
    return {"type": "string", "format": "binary"}
