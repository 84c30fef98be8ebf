"""What to do about a feature: the recommended action a popup shows, with the rule it comes from.

These are first-line recommendations from a feature's own attributes; the analyses (black-spot screening, GB 18218,
fire-lane reachability) refine them when their results are on the map.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from layers.vocab import Measure
from maps.symbols import intersection_treatment

Props = Mapping[str, Any]

RISK_ACTIONS = {
    "red": "重大风险：由单位主要负责人管控，每日巡查，制定专项管控方案，纳入镇级重点监管清单",
    "orange": "较大风险：由分管负责人管控，每周检查，落实监测与应急措施",
    "yellow": "一般风险：由部门（车间）管控，每月检查",
    "blue": "低风险：由岗位人员日常管控",
}


def _risk_source(p: Props) -> list[str]:
    return [RISK_ACTIONS.get(str(p.get("level")), "评估风险等级")]


def _intersection(p: Props) -> list[str]:
    out = []
    treatment = intersection_treatment(p)
    if p.get("sight_obstructed"):
        out.append("清除视距三角区内的遮挡物（建筑、树木、柴草垛）")
    if p.get("slope_fix_needed"):
        out.append("被交道接入段实施坡改平")
    if treatment in ("none", "signs"):
        out.append("按“千灯万带”安装爆闪警示灯和减速带")
    elif treatment == "light":
        out.append("补设减速带")
    elif treatment == "belts":
        out.append("补设警示灯")
    return out or ["设施齐全，保持日常养护"]


def _accident(p: Props) -> list[str]:
    out = ["核查该处是否位于事故多发点段（三年内统计，酒驾毒驾事故不计）"]
    if p.get("drunk_driving") or p.get("drug_driving"):
        out.append("酒驾/毒驾事故：移交交警依法处理，不计入点段排查")
    return out


def _fire_lane(p: Props) -> list[str]:
    out = []
    status = p.get("status")
    if status == "blocked":
        out.append("立即清除占用物，恢复不小于 4 m 的净宽和净高（GB 50016 §7.1.8）")
    elif status == "partial":
        out.append("限期清理占用物，防止进一步收窄")
    if p.get("dead_end") and not p.get("turnaround"):
        out.append("尽头式通道应设不小于 12 m × 12 m 的回车场（GB 50016 §7.1.9）")
    if p.get("marking") in ("none", "partial"):
        out.append("按应急消〔2019〕334号施划标线、设置标志牌")
    return out or ["保持畅通，定期巡查"]


def _obstruction(p: Props) -> list[str]:
    if p.get("cleared"):
        return ["已清除：复查是否反弹"]
    party = "单位" if p.get("party_type") == "unit" else "个人"
    return [f"责令责任{party}立即清除（消防法第二十八条），拒不清除的依法处罚并强制清除"]


def _old_settlement(p: Props) -> list[str]:
    return ["纳入老旧小区改造计划：更换老化电气线路，配置灭火器和室外消火栓，打通消防车通道"]


def _building(p: Props) -> list[str]:
    if p.get("fire_grade") in ("4", "unknown") and p.get("use") == "residential":
        return ["四级或未知耐火等级住宅：检查与相邻建筑的防火间距，清理周边可燃物"]
    return []


def _hazard(p: Props, today: date) -> list[str]:
    status = p.get("status")
    if status in ("closed", "voided"):
        return ["已销号"]
    deadline = p.get("deadline")
    if deadline and str(deadline) < today.isoformat():
        return [f"已逾期（整改时限 {deadline}）：督促责任单位整改，必要时挂牌督办"]
    if status == "verification_requested":
        return ["组织验收，合格后销号"]
    return [f"按整改措施推进，整改时限 {deadline or '未定'}"]


def _resource(p: Props) -> list[str]:
    phone = p.get("phone")
    return [f"联系电话 {phone}" if phone else "补录联系电话"]


def _accident_segment(p: Props) -> list[str]:
    if p.get("grade") == "class1":
        return ["一类事故多发点段：报请挂牌督办，组织道路安全评价，限期综合整治并设置警示"]
    return ["二类事故多发点段：完善标志标线、减速和警示设施，加强路面巡逻管控"]


def _treatment(p: Props) -> list[str]:
    measures = "、".join(Measure(m).label for m in p.get("measures") or [])
    out = []
    if p.get("signal_warranted"):
        out.append("事故数已达 GB 14886-2016 §5.1.3 设置信号灯的条件：报交警部门论证设置信号灯")
    if p.get("planned"):
        out.append(f"本期实施：{measures}（预计每年减少事故 {float(p.get('crashes_avoided') or 0):.2f} 起）")
    else:
        out.append("本期预算外：列入下期“千灯万带”计划")
    return out


def _crash_density(p: Props) -> list[str]:
    if str(p.get("level")) in ("4", "5"):
        return ["事故高密度路段：对照事故多发点段排查，核查标志标线、限速、照明和路侧安全设施"]
    return []


def _cut_off(p: Props) -> list[str]:
    ids = "、".join(str(i) for i in p.get("obstruction_ids") or [])
    together = "（须同时清除）" if p.get("needs_several") else ""
    return [f"清除占用点 {ids}{together}，恢复消防车通道畅通（消防法 第二十八条；拒不改正的依第六十条处罚、强制执行）"]


def _risk_surface(p: Props) -> list[str]:
    out = []
    if str(p.get("level")) in ("4", "5"):
        out.append("综合风险较高的格网：列为镇级重点管控区域，逐一核查格内风险源、隐患和消防救援条件")
    if (p.get("hazards") or 0) > 0:
        out.append("督促格内未销号隐患按期整改，逾期的挂牌督办")
    if (p.get("fire_gaps") or 0) > 0:
        out.append(f"格内 {int(p['fire_gaps'])} 人在消防车 5 分钟到场范围外：清除通道堵塞，或就近建设微型消防站")
    if (p.get("blackspots") or 0) > 0:
        out.append("格内有事故多发点段：按点段整治要求完善警示、减速设施")
    return out


def _fire_cluster(p: Props) -> list[str]:
    out = ["在连片建筑间设置防火墙或拉开间距，形成防火分隔（GB 50016 表5.2.2；GB 50039）"]
    if (p.get("length_m") or 0) > 150:
        out.append("连片长度超过150 m：开辟穿过连片的消防车通道（GB 50016 §7.1.1）")
    if (p.get("low_grade_buildings") or 0) > 0:
        out.append("对四级或耐火等级未知的房屋进行耐火改造；更换老化电气线路，配置灭火器")
    return out


ADVICE: dict[str, Callable[[Props], list[str]]] = {
    "cut_off": _cut_off,
    "fire_clusters": _fire_cluster,
    "risk_surface": _risk_surface,
    "treatment_plan": _treatment,
    "crash_density": _crash_density,
    "accident_segments": _accident_segment,
    "risk_sources": _risk_source,
    "intersections": _intersection,
    "accidents": _accident,
    "fire_lanes": _fire_lane,
    "obstructions": _obstruction,
    "old_settlements": _old_settlement,
    "buildings": _building,
    "emergency_resources": _resource,
}


def advice(layer_id: str, props: Props, *, today: date | None = None) -> list[str]:
    """Recommended actions for one feature, most urgent first (empty when there is nothing to do)."""
    if layer_id == "hazards":
        return _hazard(props, today or date.today())
    rule = ADVICE.get(layer_id)
    return rule(props) if rule else []
