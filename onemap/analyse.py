"""`onemap analyse …`: the road-safety analyses from the command line, each stored as its layer with its parameters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from onemap.common import DataOption, console, data_source, err

analyse_app = typer.Typer(
    help="Analyses: intersections, accident-prone spots and segments, crash density, the lights-and-belts plan.",
    no_args_is_help=True,
)

AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="count the three years before this date, YYYY-MM-DD (default: today)")
]
DaskOption = Annotated[
    str | None,
    typer.Option(help="run partition by partition on Dask: 'local' (this machine's cores) or tcp://host:port"),
]
PartitionsOption = Annotated[int | None, typer.Option(help="spatial partitions for --dask (default 4 per worker)")]


def _day(as_of: str | None) -> date:
    try:
        return date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        err.print(f"[red]日期应为 YYYY-MM-DD (the date must look like 2026-01-01), got {as_of!r}[/red]")
        raise typer.Exit(2) from None


def _store(data: str | None):
    from store import open_store

    return open_store(data_source(data))


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(2)


@analyse_app.command("intersections")
def intersections(
    roads: Annotated[
        Path | None,
        typer.Option(
            help="road lines from another file (Shapefile, GeoPackage, GeoJSON, OSM .osm/.pbf); default: "
            "the roads layer"
        ),  # fmt: skip
    ] = None,
    consolidate_m: Annotated[float, typer.Option(help="junction nodes this close are one intersection")] = 15.0,
    snap_m: Annotated[float, typer.Option(help="a dangling road end this close to another road joins it")] = 2.0,
    crs: Annotated[str | None, typer.Option(help="CRS of --roads when the file declares none, e.g. 4549")] = None,
    dask: DaskOption = None,
    partitions: PartitionsOption = None,
    data: DataOption = None,
) -> None:
    """Extract the at-grade intersections from the road lines and store them as the intersections layer."""
    from analysis import runs
    from analysis.intersections import ExtractRules
    from geo.network import NetworkParams

    try:
        rules = ExtractRules(network=NetworkParams(snap_m=snap_m, consolidate_m=consolidate_m))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    store = _store(data)
    lines = _read_roads(roads, crs) if roads else None
    if dask:
        extraction = _intersections_on_dask(store, rules, lines, dask, partitions)
    else:
        with console.status("提取平交路口 extracting intersections…"):
            extraction = runs.intersections(store, rules, lines)
    report = extraction.report
    table = Table(title="农村公路平交路口提取 intersection extraction")
    table.add_column("项目 item")
    table.add_column("数量 count", justify="right")
    for label, value in (
        ("道路 road lines", report["roads"]),
        ("路口节点（合并前） junction nodes before consolidation", report["junction_nodes"]),
        (f"路口（{consolidate_m:g} m 内合并） intersections", report["intersections"]),
        ("与已调查路口对应 matched surveyed", report["surveyed_matched"]),
        ("新发现 new", report["new"]),
        ("已调查但路网中未找到（保留） surveyed, not found (kept)", len(report["surveyed_not_found"])),
        ("视距三角形内有建筑 sight triangle obstructed", report["sight_obstructed"]),
        ("需坡改平 steep minor approach (坡改平)", report["slope_fix_needed"]),
    ):
        table.add_row(label, str(value))
    console.print(table)
    for line in extraction.repairs:
        console.print(f"  · {line}")
    if report["surveyed_not_found"]:
        console.print(f"已调查但未在路网中找到的路口 surveyed but not found: {report['surveyed_not_found']}")


def _read_roads(path: Path, crs: str | None):
    """Road lines from any file a county or OSM gives, in lon/lat (GBK Shapefiles and zips read as on import)."""
    import geopandas as gpd

    from exchange.errors import ExchangeError
    from exchange.osm import read_osm_roads
    from exchange.readers import read_source
    from geo.crs import parse_crs

    if not path.exists():
        raise _fail(f"文件不存在 / no such file: {path}")
    try:
        if path.name.lower().endswith((".osm", ".pbf")):
            return _inside_area(read_osm_roads(path), path)
        table = read_source(path)
        frame = gpd.GeoDataFrame(table.records, geometry=table.geometries, crs=table.crs or (crs and parse_crs(crs)))
    except (ExchangeError, ValueError) as exc:
        raise _fail(f"无法读取道路文件 cannot read {path}: {exc}") from None
    if frame.crs is None:
        raise _fail(f"{path}: 文件没有坐标系 (no CRS): name it with --crs, e.g. --crs 4549")
    return _inside_area(frame.to_crs(4326), path)


def _inside_area(frame, path: Path):
    """The roads, when every one lies in the service area; otherwise a clear refusal (wrong CRS, wrong file)."""
    import shapely

    from onemap.settings import get_settings

    area = shapely.box(*get_settings().region_bbox)
    outside = int((~frame.geometry.intersects(area)).sum())
    if outside:
        west, south, east, north = frame.total_bounds
        raise _fail(
            f"{path.name}: {outside} 条道路不在服务区域内 ({outside} of {len(frame)} roads lie outside the service "
            f"area {get_settings().region_bbox}; the file spans {west:.3f},{south:.3f} – {east:.3f},{north:.3f}): "
            "check the file's CRS (--crs) or set ONEMAP_REGION_BBOX"
        )
    return frame


def _intersections_on_dask(store, rules, lines, scheduler: str, partitions: int | None):
    """The intersections extracted partition by partition on a Dask cluster, stored as one process stores them."""
    from analysis.partitioned_intersections import intersections_on

    with _dask(scheduler) as client, console.status(f"Dask: 提取平交路口 extracting intersections on {scheduler}…"):
        found = intersections_on(store, client, rules, lines, partitions=partitions)
    console.print(
        f"Dask ({scheduler}): {found.extraction.report['junction_nodes']:,} junction nodes in {found.partitions} "
        f"partitions, overlap {found.overlap_m:.0f} m, {sum(found.halo):,} halo edges and buildings; "
        f"{found.across:,} intersections read across a partition edge, {found.widened} halos widened"
    )
    return found.extraction


@analyse_app.command("blackspots")
def blackspots(
    as_of: AsOfOption = None, dask: DaskOption = None, partitions: PartitionsOption = None, data: DataOption = None
) -> None:
    """Screen the accidents for 事故多发点段 and store them as the accident_segments layer."""
    from analysis import runs
    from layers.vocab import SpotClass, SpotKind

    day = _day(as_of)
    if dask:
        result = _blackspots_on_dask(_store(data), day, dask, partitions)
    else:
        with console.status("筛查事故多发点段 screening…"):
            result, _ = runs.blackspots(_store(data), day)
    for f in result.findings:
        where = (
            f"路口 {f.intersection_fid}" if f.intersection_fid else f"{f.route_code} {f.start_m:.0f}–{f.end_m:.0f} m"
        )
        eb = f"，EB 超额 {f.eb_excess:.2f} 起/年" if f.eb_excess is not None else ""
        console.print(
            f"{SpotClass(f.grade).label}{SpotKind(f.kind).label}: {where}, 致人伤亡 {f.casualty} 起"
            f"（死亡事故 {f.fatal} 起）{eb}"
        )
    console.print(
        f"{len(result.findings)} found and stored in accident_segments; "
        f"{len(result.unplaced)} crashes not placed on a road"
    )
    for u in result.unplaced:
        console.print(f"  · 事故 {u.fid}: {u.detail}")
    for note in result.notes:
        console.print(f"  note: {note}")


def _blackspots_on_dask(store, day: date, scheduler: str, partitions: int | None):
    """The screening with crashes placed and junctions read partition by partition on a Dask cluster."""
    from analysis.partitioned_screening import blackspots_on

    with _dask(scheduler) as client, console.status(f"Dask: 筛查事故多发点段 screening on {scheduler}…"):
        found, _ = blackspots_on(store, day, client, partitions=partitions)
    console.print(
        f"Dask ({scheduler}): crashes and junctions in {found.partitions} partitions, overlap {found.overlap_m:.0f} m, "
        f"{sum(found.halo):,} halo roads and crashes; {found.across:,} junction–crash pairs across a partition edge"
    )
    return found.result


@analyse_app.command("nkde")
def nkde(
    as_of: AsOfOption = None,
    lixel_m: Annotated[float, typer.Option(help="length of the road pieces the density is given for (m)")] = 50.0,
    bandwidth_m: Annotated[float, typer.Option(help="kernel bandwidth along the roads (m)")] = 300.0,
    kernel: Annotated[str, typer.Option(help="quartic, triangular, uniform or epanechnikov")] = "quartic",
    method: Annotated[str, typer.Option(help="simple, or discontinuous (splits at junctions)")] = "simple",
    data: DataOption = None,
) -> None:
    """Network kernel density of the crashes along the roads, stored as the crash_density layer."""
    from analysis import runs
    from analysis.nkde import KdeParams

    try:
        params = KdeParams(lixel_m=lixel_m, bandwidth_m=bandwidth_m, kernel=kernel, method=method)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    day = _day(as_of)
    store = _store(data)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("事故核密度 crash density", total=None)
        run = runs.crash_density(store, day, params, progress=lambda done, total: bar.update(task, completed=done,
                                                                                           total=total))  # fmt: skip
    per_km = run.result.density_per_km
    console.print(
        f"{run.crashes} crashes, {len(per_km)} lixels of {lixel_m:g} m; {len(run.frame)} with crashes within "
        f"{bandwidth_m:g} m stored in crash_density; peak {per_km.max() if len(per_km) else 0:.2f} crashes/km"
    )
    if run.unplaced:
        console.print(f"not placed (more than {params.max_snap_m:g} m from every road): {run.unplaced}")


@analyse_app.command("plan")
def plan(
    budget: Annotated[float, typer.Option(help="the money available, yuan")],
    as_of: AsOfOption = None,
    cost: Annotated[
        list[str] | None, typer.Option(help="a local unit cost, measure=yuan (repeat), e.g. flashing_light=18000")
    ] = None,
    cmf: Annotated[
        list[str] | None, typer.Option(help="a local crash modification factor, measure=CMF (repeat)")
    ] = None,
    measures: Annotated[str | None, typer.Option(help="only these measures, comma-separated (default: all)")] = None,
    xlsx: Annotated[Path | None, typer.Option(help="write the plan as an Excel workbook here")] = None,
    geojson: Annotated[Path | None, typer.Option(help="write the plan as GeoJSON here")] = None,
    data: DataOption = None,
) -> None:
    """Score the candidate intersections and choose "千灯万带" measures within the budget (treatment_plan layer).

    Measures: flashing_light, speed_belts (per minor approach), signs_markings, slope_fix, sight_clearing.
    """
    from analysis import runs
    from analysis.budget import local_rules, parse_settings
    from analysis.plan_export import plan_geojson, plan_workbook

    day = _day(as_of)
    try:
        rules = local_rules(
            parse_settings(cost or [], "--cost"),
            parse_settings(cmf or [], "--cmf"),
            [m.strip() for m in measures.split(",") if m.strip()] if measures else None,
        )
        with console.status("评分并编制计划 scoring and planning…"):
            run = runs.treatment_plan(_store(data), budget, day, budget_rules=rules)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"千灯万带整治计划 (预算 {budget:,.0f} 元)")
    for column in ("排序", "路口", "措施", "费用(元)", "每年减少事故(起)"):
        table.add_column(column)
    for item in run.plan.items:
        table.add_row(
            str(item.rank),
            item.name,
            "、".join(item.measure_labels),
            f"{item.cost_yuan:,.0f}",
            f"{item.crashes_avoided_per_year:.2f}",
        )
    console.print(table)
    console.print(
        f"{len(run.priorities)} candidates scored; {len(run.plan.items)} planned for "
        f"{run.plan.total_cost_yuan:,.0f} yuan, avoiding about {run.plan.total_crashes_avoided_per_year:.2f} "
        "injury or fatal crashes a year"
    )
    for note in run.plan.notes:
        console.print(f"  note: {note}")
    if xlsx:
        xlsx.write_bytes(plan_workbook(run.plan, run.priorities))
        console.print(f"wrote {xlsx}")
    if geojson:
        geojson.write_text(plan_geojson(run.plan), encoding="utf-8")
        console.print(f"wrote {geojson}")


@analyse_app.command("fire")
def fire(
    as_of: AsOfOption = None,
    xlsx: Annotated[Path | None, typer.Option(help="write every finding as an Excel workbook here")] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            help="find the too-close building pairs on Dask: 'local' (this machine's cores) or tcp://host:port"
        ),
    ] = None,
    partitions: PartitionsOption = None,
    data: DataOption = None,
) -> None:
    """Fire lanes, who a blockage cuts off, response coverage, fire separation and old settlements ranked."""
    from analysis import fire_runs
    from analysis.fire_lanes import PROVISION_TITLES

    day = _day(as_of)
    store = _store(data)
    pairs = _pairs_on_dask(store, dask, partitions) if dask else None
    with console.status("消防分析 fire analysis…"):
        run = fire_runs.fire(store, day, pairs=pairs)
    summary = run.lanes.summary()
    console.print(
        f"消防车通道 {summary['lanes']} 条：堵塞 {summary['blocked_lane_fids']}，"
        f"部分占用 {summary['partial_lane_fids']}，尽头式缺回车场 {summary['needs_turnaround_lane_fids']}；"
        f"间距超 160 m 的街区 {summary['spacing_violations']} 个"
    )
    for lane in run.lanes.lanes:
        if lane.status == "blocked":
            parties = "、".join(p.name for p in lane.parties) or "—"
            basis = "、".join(PROVISION_TITLES[code] for code in lane.legal_basis)
            console.print(f"  · {lane.name}：{'；'.join(lane.reasons)}（责任方 {parties}；依据 {basis}）")
    cut = run.response.cut_off
    console.print(f"通道堵塞受影响建筑 {cut['building_fid'].nunique()} 栋 (cut off or beyond the standard):")
    for (settlement, obstruction), rows in cut.groupby(
        [cut["settlement_fid"].fillna(0).astype(int), cut["obstruction_fids"].map(lambda f: "、".join(map(str, f)))]
    ):
        place = f"老旧小区 #{settlement}" if settlement else "散户"
        console.print(f"  · {place}: 建筑 {sorted(set(rows['building_fid']))}，清除占用点 {obstruction} 即可恢复")
    top = run.separation.settlements.sort_values("rank").head(5)
    console.print("老旧场所整治排序 (old settlements ranked):")
    for fid, row in top.iterrows():
        console.print(f"  {int(row['rank'])}. {row['name']} (#{fid}) 得分 {row['score']:.1f}")
    console.print(
        f"stored: response_bands {len(run.frames['response_bands'])}, cut_off {len(run.frames['cut_off'])}, "
        f"fire_clusters {len(run.frames['fire_clusters'])}"
    )
    if xlsx:
        xlsx.write_bytes(fire_runs.workbook(run))
        console.print(f"wrote {xlsx}")


def _pairs_on_dask(store, scheduler: str, partitions: int | None):
    """The too-close pairs found partition by partition on a Dask cluster (a local one, or at an address)."""
    from analysis.partitioned import too_close_pairs_partitioned
    from layers import LAYERS

    buildings = store.read(LAYERS["buildings"])
    with _dask(scheduler) as client, console.status(f"Dask: 防火间距 fire separation on {scheduler}…"):
        found = too_close_pairs_partitioned(buildings, client, partitions=partitions)
    console.print(
        f"Dask ({scheduler}): {len(buildings):,} buildings in {found.partitions} partitions, overlap "
        f"{found.overlap_m:.0f} m, {sum(found.halo):,} halo buildings; {len(found.pairs):,} pairs too close"
    )
    return found.pairs


@contextlib.contextmanager
def _dask(scheduler: str) -> Iterator:
    """A Dask client: on a LocalCluster of this machine's cores ('local') or at a scheduler's address; closed after."""
    from dask.distributed import Client

    from analysis.partitioned import local_client

    try:
        client = local_client() if scheduler == "local" else Client(scheduler, timeout="10s", set_as_default=False)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot reach the Dask scheduler at {scheduler}: {exc}", param_hint="--dask"
        ) from None
    with client:
        yield client


@analyse_app.command("risk")
def risk(
    as_of: AsOfOption = None,
    weight: Annotated[
        list[str] | None,
        typer.Option(help="composite-surface weight, component=number, repeatable (e.g. --weight hazards=0.4)"),
    ] = None,
    xlsx: Annotated[Path | None, typer.Option(help="write the graded register as an Excel workbook here")] = None,
    data: DataOption = None,
) -> None:
    """GB 18218 major hazard sources (S, exposed people, α, R, grade), four-colour levels by LEC or LS, and the
    composite risk surface over H3 hexagons (stored as risk_surface) with the villages ranked."""
    from analysis.major_hazard import assess
    from analysis.risk_grading import disagreements, grade
    from analysis.risk_runs import surface
    from analysis.risk_surface import SurfaceRules
    from layers import LAYERS

    try:
        rules = SurfaceRules().with_weights(weight or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--weight") from None
    store = _store(data)
    sources = store.read(LAYERS["risk_sources"])
    found = assess(sources, store.read(LAYERS["buildings"]))
    for fid, row in found[found["major"]].iterrows():
        console.print(
            f"重大危险源 #{fid} {row['name']}: S = {row['S']:.3f}, 500 m内 {row['exposed_people']} 人, "
            f"α = {row['alpha']:g}, R = {row['R']:.2f} → {row['grade']}"
        )
    graded = grade(sources, store.read(LAYERS["villages"]))
    counts = graded["level_label"].value_counts().to_dict()
    console.print(f"四色分级 four-colour levels: {counts}; {disagreements(graded)} differ from the level on record")
    day = _day(as_of)
    with console.status("综合风险格网 composite risk surface…"):
        result, frame = surface(store, day, rules)
    weights = "，".join(f"{k} {v:g}" for k, v in result.rules.as_dict()["weights"].items())
    console.print(
        f"综合风险格网 {len(frame)} 格（H3 第 {rules.resolution} 级），权重：{weights}；stored in risk_surface"
    )
    console.print("村（嘎查）综合风险排序 (villages ranked):")
    for _, row in result.villages.head(10).iterrows():
        console.print(
            f"  {int(row['rank'])}. {row['name']} 指数 {row['score']:.1f}（最高格 {row['top_cell_score']:.1f}）"
        )
    if xlsx:
        from analysis.risk_register import register_workbook

        book = register_workbook(
            sources,
            store.read(LAYERS["buildings"]),
            store.read(LAYERS["villages"]),
            ranking=result.villages,
            rules=result.rules,
        )
        xlsx.write_bytes(book)
        console.print(f"wrote {xlsx}")
