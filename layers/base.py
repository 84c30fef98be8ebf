"""What a layer is: a frozen declaration of its id, Chinese title, geometry, attribute schema and default style."""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from layers.vocab import Labeled

GeometryType = Literal["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"]
Group = Literal["行政区划", "道路交通", "风险源", "消防", "隐患", "应急资源", "建筑"]

#: Marked on every layer and on every map: the demo town is generated, not surveyed.
SYNTHETIC_NOTICE = "合成示例数据，非真实测绘成果 (synthetic sample data, not a survey)"


class Properties(BaseModel):
    """Base of every layer's attribute schema: unknown columns are refused, text is trimmed.

    Lists and objects are stored as JSON text (GeoPackage has no array type), so they are accepted either way.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _parse_json_text(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in _nested_names(cls):
            value = data.get(name)
            if isinstance(value, str):
                text = value.strip()
                try:
                    data[name] = json.loads(text) if text else []
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{name}: not valid JSON text ({exc.msg} at character {exc.pos})") from None
        return data


@functools.cache
def _nested_names(cls: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a properties class that hold lists or objects (worked out once per class, not per record)."""
    return tuple(name for name, info in cls.model_fields.items() if _is_nested(info.annotation))


class Style(BaseModel, frozen=True):
    """How a layer is drawn by default; `by` colours features by a coded field."""

    color: str = "#3388ff"
    fill_color: str | None = None
    fill_opacity: float = Field(0.3, ge=0, le=1)
    weight: float = Field(2, ge=0)
    radius: float = Field(5, ge=0)
    by: str | None = None
    colors: Mapping[str, str] = Field(default_factory=dict)


class Layer(BaseModel, frozen=True):
    """A thematic layer: where it sits on the map, what its features look like and which attributes they carry."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str
    group: Group
    geometry_types: tuple[GeometryType, ...]
    properties: type[Properties]
    style: Style = Style()
    mutable: bool = False
    derived: bool = False
    #: Served only to signed-in users, each within their remit (village or unit); anonymous clients get 401.
    private: bool = False

    @model_validator(mode="after")
    def _style_field_exists(self) -> Layer:
        if self.style.by and self.style.by not in self.properties.model_fields:
            raise ValueError(f"style.by={self.style.by!r} is not a field of {self.properties.__name__}")
        return self

    @property
    def fields(self) -> tuple[str, ...]:
        """Attribute names in declaration order."""
        return tuple(self.properties.model_fields)

    @property
    def primary_geometry_type(self) -> GeometryType:
        """The geometry type a new, empty table is created with."""
        return self.geometry_types[0]

    def field_titles(self) -> dict[str, str]:
        """Field name → Chinese column title, for exports and popups."""
        return {name: info.title or name for name, info in self.properties.model_fields.items()}

    def json_fields(self) -> tuple[str, ...]:
        """Fields holding lists or objects, which are stored as JSON text."""
        return _nested_fields(self.properties)

    def coded_fields(self) -> dict[str, type[Labeled]]:
        """Fields whose values are codes with Chinese labels."""
        out = {}
        for name, info in self.properties.model_fields.items():
            enum = _labeled_enum(info.annotation)
            if enum is not None:
                out[name] = enum
        return out

    def to_record(self, props: Properties) -> dict[str, Any]:
        """One validated attribute set as storable column values (codes as text, lists as JSON)."""
        data = props.model_dump(mode="json")
        for name in self.json_fields():
            data[name] = json.dumps(data[name], ensure_ascii=False)
        return data


@functools.cache
def _nested_fields(properties: type[Properties]) -> tuple[str, ...]:
    """Cached per schema: serving a page asks this once per feature."""
    return tuple(name for name, info in properties.model_fields.items() if _is_nested(info.annotation))


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip_optional(args[0])
    if origin is Annotated:
        return _strip_optional(typing.get_args(annotation)[0])
    return annotation


def _is_nested(annotation: Any) -> bool:
    base = _strip_optional(annotation)
    return typing.get_origin(base) in (list, dict) or (isinstance(base, type) and issubclass(base, BaseModel))


def _labeled_enum(annotation: Any) -> type[Labeled] | None:
    base = _strip_optional(annotation)
    return base if isinstance(base, type) and issubclass(base, Labeled) else None


def is_temporal(annotation: Any) -> bool:
    """True for date and datetime fields, which files carry as text."""
    base = _strip_optional(annotation)
    return isinstance(base, type) and issubclass(base, date | datetime)
