"""The layer registry: every thematic layer onemap knows, by id, in map order."""

from collections.abc import Mapping
from types import MappingProxyType

from layers.admin import VILLAGES
from layers.base import SYNTHETIC_NOTICE, Layer, Properties
from layers.emergency import EMERGENCY_RESOURCES
from layers.fire import BUILDINGS, FIRE_LANES, OBSTRUCTIONS, OLD_SETTLEMENTS
from layers.fire_analysis import CUT_OFF, FIRE_CLUSTERS, RESPONSE_BANDS
from layers.ledger import HAZARDS
from layers.risk import RISK_SOURCES
from layers.risk_analysis import RISK_SURFACE
from layers.road_analysis import CRASH_DENSITY, TREATMENT_PLAN
from layers.roads import ACCIDENT_SEGMENTS, ACCIDENTS, INTERSECTIONS, ROADS

__all__ = ["LAYERS", "SYNTHETIC_NOTICE", "Layer", "Properties", "UnknownLayer", "get_layer"]


class UnknownLayer(LookupError):
    """A layer id that is not declared."""


_DECLARED = (
    VILLAGES,
    RISK_SURFACE,
    BUILDINGS,
    OLD_SETTLEMENTS,
    ROADS,
    INTERSECTIONS,
    ACCIDENTS,
    ACCIDENT_SEGMENTS,
    CRASH_DENSITY,
    TREATMENT_PLAN,
    RISK_SOURCES,
    FIRE_LANES,
    OBSTRUCTIONS,
    RESPONSE_BANDS,
    CUT_OFF,
    FIRE_CLUSTERS,
    EMERGENCY_RESOURCES,
    HAZARDS,
)

LAYERS: Mapping[str, Layer] = MappingProxyType({layer.id: layer for layer in _DECLARED})


def get_layer(layer_id: str) -> Layer:
    """The declared layer `layer_id`, or UnknownLayer naming the known ids."""
    try:
        return LAYERS[layer_id]
    except KeyError:
        raise UnknownLayer(f"unknown layer {layer_id!r}; known layers: {', '.join(LAYERS)}") from None
