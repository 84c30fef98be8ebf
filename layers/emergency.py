"""Emergency resources: fire stations, clinics, rescue teams, supply depots and shelters."""

from pydantic import Field

from layers.base import Layer, Properties, Style
from layers.vocab import ResourceKind


class ResourceProperties(Properties):
    """A place or team that answers an emergency, and how to reach it."""

    name: str = Field(title="名称", min_length=1, max_length=80)
    kind: ResourceKind = Field(title="类型")
    capacity: int | None = Field(None, title="容量", ge=0, description="Staff, beds or sheltered people by kind")
    capacity_note: str | None = Field(None, title="容量说明", max_length=80)
    phone: str | None = Field(None, title="联系电话", max_length=30)
    village_code: str | None = Field(None, title="所属村", pattern=r"^\d{12}$")


EMERGENCY_RESOURCES = Layer(
    id="emergency_resources",
    title="应急资源",
    description="Fire stations, micro fire stations, clinics, rescue teams, supply depots and shelters.",
    group="应急资源",
    geometry_types=("Point",),
    properties=ResourceProperties,
    style=Style(
        by="kind",
        colors={
            "fire_station": "#b30000",
            "micro_fire_station": "#e34a33",
            "township_clinic": "#2b8cbe",
            "village_clinic": "#74a9cf",
            "rescue_team": "#238b45",
            "supply_depot": "#6a51a3",
            "shelter": "#41ab5d",
        },
        radius=7,
    ),
)
