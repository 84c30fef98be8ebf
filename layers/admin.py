"""Administrative divisions: the villages (行政村/嘎查) that tile the town."""

from pydantic import Field

from layers.base import Layer, Properties, Style
from layers.vocab import VillageKind


class VillageProperties(Properties):
    """One administrative village or gacha and who answers for it."""

    name: str = Field(title="名称", min_length=1, max_length=50)
    code: str = Field(title="区划代码", pattern=r"^\d{12}$", description="12-digit statistical division code")
    kind: VillageKind = Field(VillageKind.VILLAGE, title="类型")
    population: int = Field(title="户籍人口", ge=0)
    households: int = Field(title="户数", ge=0)
    official: str = Field(title="包村干部", min_length=1, max_length=30)
    phone: str | None = Field(None, title="联系电话", max_length=30)


VILLAGES = Layer(
    id="villages",
    title="行政村/嘎查",
    description="Village boundaries tiling the town; hazards and summaries are counted per village.",
    group="行政区划",
    geometry_types=("Polygon", "MultiPolygon"),
    properties=VillageProperties,
    style=Style(color="#555555", fill_color="#f5f0e6", fill_opacity=0.15, weight=1.5),
)
