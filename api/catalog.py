"""Layers held in memory with their spatial indexes: what the service answers queries from."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
from shapely.geometry import Point

from geo.index import BBox, SpatialIndex
from geo.validate import geometry_problem
from layers import LAYERS, Layer, get_layer
from store import DatasetInfo, Store


class FeatureNotFound(LookupError):
    """A feature id that the layer does not hold."""


class UnknownVillage(LookupError):
    """A village id or code that the villages layer does not hold."""


@dataclass
class LayerData:
    """One layer's features (fid-indexed, EPSG:4326) and the R-tree over them."""

    layer: Layer
    frame: gpd.GeoDataFrame
    index: SpatialIndex

    @classmethod
    def build(cls, layer: Layer, frame: gpd.GeoDataFrame) -> LayerData:
        """Index a freshly read frame (sorted by fid, so pages come in id order)."""
        frame = frame.sort_index()
        return cls(layer, frame, SpatialIndex(frame.index.to_numpy(), frame.geometry.to_numpy()))

    @property
    def fids(self) -> np.ndarray:
        """All feature ids, ascending."""
        return self.frame.index.to_numpy()

    def extent(self) -> BBox | None:
        """Bounding box of all features, or None for an empty layer."""
        if self.frame.empty:
            return None
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in self.frame.total_bounds)
        return (min_lon, min_lat, max_lon, max_lat)

    def positions(self, fids: np.ndarray) -> np.ndarray:
        """Row positions of the given fids (all must exist)."""
        return self.frame.index.get_indexer(fids)

    def feature(self, fid: int) -> gpd.GeoDataFrame:
        """A one-row frame for `fid`, or FeatureNotFound."""
        if fid not in self.frame.index:
            raise FeatureNotFound(f"collection {self.layer.id!r} has no feature with id {fid}")
        return self.frame.loc[[fid]]


class BadLocation(ValueError):
    """A point given for a report or a hazard that is malformed, outside the area, or in no village of the town."""


class Catalog(Mapping[str, LayerData]):
    """Every declared layer, loaded from one store at start-up."""

    def __init__(self, info: DatasetInfo, layers: Mapping[str, LayerData]) -> None:
        self.info = info
        self._layers = dict(layers)
        self._derived: dict[str, tuple[frozenset[str], Any]] = {}

    @classmethod
    def load(cls, store: Store) -> Catalog:
        """Read and index every declared layer (absent layers are served empty)."""
        return cls(store.info(), {layer.id: LayerData.build(layer, store.read(layer)) for layer in LAYERS.values()})

    def village_fid(self, village_id: str) -> int:
        """The fid of a village given by fid or 12-digit division code; UnknownVillage otherwise."""
        frame = self["villages"].frame
        if village_id.isdigit() and len(village_id) == 12:
            match = frame.index[frame["code"] == village_id]
        elif village_id.isdigit() and int(village_id) in frame.index:
            match = frame.index[frame.index == int(village_id)]
        else:
            match = frame.index[:0]
        if not len(match):
            raise UnknownVillage(
                f"没有编号或区划代码为 {village_id} 的村（嘎查） (no village with id or code {village_id!r}): "
                "use a fid or 12-digit code from /collections/villages/items"
            )
        return int(match[0])

    def village_code_at(self, lon: float, lat: float, region_bbox: BBox) -> str:
        """The division code of the village a reported point lies in; BadLocation saying what is wrong."""
        point = Point(lon, lat)
        problem = geometry_problem(point, ("Point",), region_bbox)
        if problem:
            raise BadLocation(f"位置有误 (location): {problem}")
        inside = self["villages"].index.containing(point)
        if not len(inside):
            raise BadLocation(f"({lon}, {lat}) 不在本镇任何村界内 (the point lies in no village of this town)")
        return str(self["villages"].frame.loc[int(inside[0]), "code"])

    def replace(self, layer_id: str, data: LayerData) -> None:
        """Serve a layer's new contents (an analysis has just rewritten it); what was derived from it is dropped."""
        get_layer(layer_id)
        self._layers[layer_id] = data
        self._derived = {k: v for k, v in self._derived.items() if layer_id not in v[0]}

    def derived(self, name: str, layer_ids: Iterable[str], build: Callable[[], Any]) -> Any:
        """A value computed from some layers (a routing network, say), built once and again after one is replaced."""
        if name not in self._derived:
            self._derived[name] = (frozenset(layer_ids), build())
        return self._derived[name][1]

    def __getitem__(self, layer_id: str) -> LayerData:
        get_layer(layer_id)  # raises UnknownLayer with the list of known ids
        return self._layers[layer_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)
