"""Tables as JSON rows, written once so every route answers with the same shapes for dates, lists and gaps."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from geopandas.array import GeometryDtype


def records(frame: pd.DataFrame, *, index: bool = True) -> list[dict[str, Any]]:
    """JSON-ready rows: dates as ISO text, tuples as lists, NaN as null, geometry left out (the map has its own).

    `index` keeps the index as a column (a layer's fid); pandas' encoder rounds floats to ten digits.
    """
    frame = pd.DataFrame(frame)
    frame = frame.drop(columns=[name for name, dtype in frame.dtypes.items() if isinstance(dtype, GeometryDtype)])
    if index:
        frame = frame.reset_index()
    text = frame.to_json(orient="records", force_ascii=False, date_format="iso", default_handler=str)
    return json.loads(text)
