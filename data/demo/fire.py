"""Fire lanes in the seat and what stands on them, including the dead-end lane that is an old compound's only way in."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from shapely.geometry import LineString, Point

from data.demo.area import SEAT_HALF, seat_xy
from data.demo.metric import along, lonlat_of
from data.demo.names import STREETS_ACROSS, STREETS_ALONG, person
from data.demo.network import BLOCK
from data.demo.town import Feature, Town
from layers.fire import FireLaneProperties, ObstructionProperties

#: Streets carried as fire lanes: ("along", j) runs parallel to G111, ("across", i) crosses it.
STREET_LANES = [("along", j) for j in (1, 2, 3, 5, 6, 7)] + [("across", i) for i in (1, 2, 3, 5, 6, 7)]
#: Alleys through blocks (block column, block row); the dead-end alley enters block DEAD_END_BLOCK from the west.
THROUGH_ALLEYS = ((1, 5), (2, 2), (5, 5), (6, 3))
DEAD_END_BLOCK = (5, 6)
DEAD_END_DEPTH = 55.0

#: (lane key, kind, remaining width m, party type, cleared) — the planted occupations.
OCCUPATIONS = (
    ("dead_end", "straw", 1.6, "individual", False),
    ("alley-2-2", "illegal_structure", 2.8, "individual", False),
    ("along-6", "vehicle", 3.2, "individual", False),
    ("along-6", "debris", 3.6, "unit", False),
    ("along-2", "vehicle", 4.6, "individual", False),
    ("alley-5-5", "debris", 4.2, "unit", False),
    ("across-3", "parking_lock", 6.5, "individual", True),
    ("across-6", "barrier", 5.0, "unit", True),
)


def block_bounds(bi: int, bj: int) -> tuple[float, float, float, float]:
    """(s0, s1, t0, t1) of seat block (bi, bj) in seat coordinates."""
    s0 = -SEAT_HALF + bi * BLOCK
    t0 = -SEAT_HALF + bj * BLOCK
    return s0, s0 + BLOCK, t0, t0 + BLOCK


def lane_features(town: Town) -> list[Feature]:
    """Street lanes, through-alleys and one dead-end alley; status follows the narrowest uncleared obstruction."""
    rng = town.rng("fire-lanes")
    lanes: dict[str, tuple[str, LineString, float]] = {}
    for axis, k in STREET_LANES:
        c = -SEAT_HALF + k * BLOCK
        if axis == "along":
            line = LineString([seat_xy(town, -SEAT_HALF, c), seat_xy(town, SEAT_HALF, c)])
            name = f"{STREETS_ALONG[k]}消防车通道"
        else:
            line = LineString([seat_xy(town, c, -SEAT_HALF), seat_xy(town, c, SEAT_HALF)])
            name = f"{STREETS_ACROSS[k]}消防车通道"
        lanes[f"{axis}-{k}"] = (name, line, float(rng.choice([6.0, 7.0, 7.5, 8.0])))
    for bi, bj in THROUGH_ALLEYS:
        s0, s1, t0, t1 = block_bounds(bi, bj)
        tm = (t0 + t1) / 2
        line = LineString([seat_xy(town, s0, tm), seat_xy(town, s1, tm)])
        lanes[f"alley-{bi}-{bj}"] = (f"{STREETS_ACROSS[bi]}{bi}{bj}号巷", line, float(rng.choice([4.5, 5.0, 6.0])))
    s0, _, t0, t1 = block_bounds(*DEAD_END_BLOCK)
    tm = (t0 + t1) / 2
    dead = LineString([seat_xy(town, s0, tm), seat_xy(town, s0 + DEAD_END_DEPTH, tm)])
    lanes["dead_end"] = ("粮站家属院进院通道", dead, 4.5)
    keys = list(lanes)
    occupied: dict[str, list[tuple]] = {k: [o for o in OCCUPATIONS if o[0] == k] for k in keys}
    features: list[Feature] = []
    for key in keys:
        name, line, width = lanes[key]
        open_widths = [o[2] for o in occupied[key] if not o[4]]
        narrowest = min(open_widths, default=width)
        status = "passable" if not open_widths else "blocked" if narrowest < 4.0 else "partial"
        props = FireLaneProperties(
            name=name,
            width_m=width,
            clear_height_m=round(float(rng.uniform(4.5, 6.0)), 1),
            marking=_marking(key, rng),
            status=status,
            dead_end=key == "dead_end",
            turnaround=False,
        )
        features.append((props, line))
    town.features["fire_lanes"] = features
    town.extras["lanes"] = {key: (i + 1, lanes[key][1], lanes[key][2]) for i, key in enumerate(keys)}
    return features


def obstruction_features(town: Town) -> list[Feature]:
    """The planted occupations as points on their lanes, with the party answerable under 消防法 第二十八条."""
    rng = town.rng("obstructions")
    lanes = town.extras["lanes"]
    features: list[Feature] = []
    for key, kind, remaining, party_type, cleared in OCCUPATIONS:
        fid, line, _ = lanes[key]
        d = line.length * (0.8 if key == "dead_end" else float(rng.uniform(0.2, 0.8)))
        point = along(line, d, offset=float(rng.uniform(-1.0, 1.0)))
        when = datetime(2025, 3, 1) + timedelta(days=int(rng.integers(0, 270)), hours=int(rng.integers(8, 18)))
        party = person(rng) if party_type == "individual" else str(rng.choice(["镇供销社", "镇粮站", "镇区商户联合会"]))
        props = ObstructionProperties(
            lane_id=fid,
            kind=kind,
            remaining_width_m=remaining,
            reported_at=when,
            responsible_party=party,
            party_type=party_type,
            cleared=cleared,
            note="已责令清除并复查" if cleared else None,
        )
        features.append((props, point))
    town.features["obstructions"] = features
    blocked = sorted({lanes[o[0]][0] for o in OCCUPATIONS if not o[4] and o[2] < 4.0})
    partial = sorted({lanes[o[0]][0] for o in OCCUPATIONS if not o[4] and o[2] >= 4.0} - set(blocked))
    town.truth["fire_lanes"] = {
        "rule": "GB 50016 §7.1.8: 净宽、净高 ≥ 4.0 m；剩余净宽 < 4 m 即堵塞",
        "blocked_lane_fids": blocked,
        "partial_lane_fids": partial,
        "obstruction_fids": {
            str(i + 1): {"lane_fid": lanes[o[0]][0], "remaining_width_m": o[2], "cleared": o[4]}
            for i, o in enumerate(OCCUPATIONS)
        },
        "dead_end": {
            "lane_fid": lanes["dead_end"][0],
            "obstruction_fid": 1,
            "entrance": lonlat_of(Point(lanes["dead_end"][1].coords[0])),
        },
    }
    return features


def _marking(key: str, rng: np.random.Generator) -> str:
    """Streets are marked fully or in part (应急消〔2019〕334号); alleys are not marked at all."""
    if key.startswith(("along", "across")):
        return "marked" if rng.random() < 0.5 else "partial"
    return "none"
