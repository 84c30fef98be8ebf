"""Parameters of the fire-engine response analysis: engine speeds, access, station standards and bands, with sources.

The lane rules the response obeys (GB 50016 §7.1.8: 4.0 m clear width and height; which lane an obstruction stands
on) are not here: they are `analysis.fire_lanes.LaneRules`, and the response models the blockages that analysis
finds.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from geo.crs import LOCAL_METRIC
from geo.network import NetworkParams

FIRE_STATION = "fire_station"
MICRO_FIRE_STATION = "micro_fire_station"
#: The class key for "the nearest station of any class".
ANY = "any"


def _default_speeds() -> dict[str, float]:
    # [K] assumed engine running speeds (km/h) by administrative class (layers.vocab.AdminClass); domain.md §7
    # suggests 30–60 km/h by class on rural roads. Not from a standard: replace them with local drive tests.
    return {"G": 60.0, "S": 60.0, "X": 50.0, "Y": 40.0, "C": 30.0, "Z": 30.0, "street": 30.0}


def _default_standards() -> dict[str, float]:
    return {
        FIRE_STATION: 5.0,  # 建标152-2017: on scene at the district edge within 5 min of dispatch (domain.md §7 [C])
        MICRO_FIRE_STATION: 3.0,  # 公消〔2015〕301号 微型消防站 "3分钟到场" (domain.md §7 [C])
    }


@dataclass(frozen=True)
class ResponseParams:
    """Every speed, distance and standard of the response analysis, with its source; checked when made."""

    road_speed_kmh: dict[str, float] = field(default_factory=_default_speeds)  # see _default_speeds [K]
    other_road_kmh: float = 30.0  # [K] a road whose class is missing or not in the table: as a village road
    fire_lane_kmh: float = 15.0  # [K] an engine feeling its way along a narrow lane between houses
    # [K] 道路交通安全法 第五十三条 frees a fire engine on a call from speed limits, so the class speed is used as it
    # is; True caps it at the road's posted limit for a cautious estimate.
    cap_at_speed_limit: bool = False
    turnout_s: float = 0.0  # [K] 出动时间 from the alarm to the engine leaving, e.g. 60 s; 0: counted from departure
    station_yard_kmh: float = 15.0  # [K] from the station door to the road, for a station set back from it
    access_max_m: float = 100.0  # [K] farther from every road and lane than this: "not on the network", reported
    access_kmh: float = 3.6  # [K] 1 m/s: the crew walking and laying hose from the engine to the building
    lane_on_road_m: float = 1.0  # [K] a road stretch within this of a lane is the same carriageway: the lane takes it
    station_standard_min: dict[str, float] = field(default_factory=_default_standards)  # see _default_standards
    # The two standards (3 and 5 min) and 10/15/30 min [K] for the farthest villages; minutes, ascending.
    bands_min: tuple[float, ...] = (3.0, 5.0, 10.0, 15.0, 30.0)
    time_tol_s: float = 1e-6  # two times this close are equal (floating-point noise of summed edge times)
    metric_crs: str = LOCAL_METRIC  # CGCS2000 Gauss-Krüger CM 120E, Naiman Banner (domain.md §9.3)
    network: NetworkParams = field(default_factory=NetworkParams)  # noding and snapping tolerances (geo.network)

    def __post_init__(self) -> None:
        for name in ("other_road_kmh", "fire_lane_kmh", "station_yard_kmh", "access_kmh", "time_tol_s"):
            _positive(name, getattr(self, name))
        for name in ("turnout_s", "access_max_m", "lane_on_road_m"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not (value >= 0 and math.isfinite(value))
            ):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for key, value in self.road_speed_kmh.items():
            _positive(f"road_speed_kmh[{key!r}]", value)
        if not self.station_standard_min:
            raise ValueError("station_standard_min must name at least one station kind")
        for key, value in self.station_standard_min.items():
            if key == ANY:
                raise ValueError(f"{ANY!r} is reserved for the nearest station of any kind")
            _positive(f"station_standard_min[{key!r}]", value)
        bands = tuple(self.bands_min)
        if not bands:
            raise ValueError("bands_min must hold at least one band")
        for value in bands:
            _positive("bands_min", value)
        if any(b <= a for a, b in zip(bands, bands[1:], strict=False)):
            raise ValueError(f"bands_min must be strictly ascending, got {bands!r}")

    @property
    def classes(self) -> tuple[str, ...]:
        """The station kinds analysed, in the order given."""
        return tuple(self.station_standard_min)


def _positive(name: str, value: object) -> None:
    """Refuse anything but a finite positive number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")


def missing(value: Any) -> bool:
    """None, NaN or pandas' NA: a blank cell of a stored layer."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def class_key(value: Any) -> str:
    """The key of a road class or station kind in the parameters' tables (an enum by its value), "" when unknown."""
    if missing(value):
        return ""
    return str(getattr(value, "value", value))
