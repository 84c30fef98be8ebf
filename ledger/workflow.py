"""The hazard workflow (domain.md §10) as a state machine: which step may follow which, and what each must carry.

登记 → 评估定级 → 整改中 → 申请验收 → 验收通过 → 销号; 验收不通过 returns to 整改中; a deadline is extended only with a
reason; a 重大 hazard is put under supervision (挂牌督办) when it is graded and is closed only with the sign-off of its
supervising level; a duplicate or invalid record is voided with a reason. Nothing is ever deleted: every step is an
event in the hazard's history (see `Event`). Overdue (逾期) is not a state of its own but a fact about a hazard in
rectification whose deadline has passed, so it can never disagree with the calendar.

This module is pure: it takes a hazard's attributes and a request, and returns the new attributes and the event, or a
`TransitionError` that says what is allowed instead. Storage and permissions live elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from layers.ledger import HazardProperties
from layers.vocab import HazardLevel, HazardStatus, Labeled, SupervisionLevel

S = HazardStatus


class Action(Labeled):
    """A step in a hazard's life."""

    ASSESS = "assess", "评估定级"
    START = "start", "开始整改"
    EXTEND = "extend", "延期"
    REQUEST_VERIFICATION = "request_verification", "申请验收"
    ACCEPT = "accept", "验收通过"
    REJECT = "reject", "验收不通过"
    CLOSE = "close", "销号"
    VOID = "void", "作废"
    EDIT = "edit", "修改信息"
    REGISTER = "register", "登记"
    ATTACH = "attach", "上传照片"


@dataclass(frozen=True)
class Step:
    """One action: the states it may start from, the state it leads to (None: stays), and what it must carry."""

    action: Action
    sources: frozenset[HazardStatus]
    target: HazardStatus | None
    #: Fields of the request that must be given (the reason for an extension, the acceptor, ...).
    requires: tuple[str, ...] = ()
    #: Fields of the request that may be given and are written to the hazard.
    sets: tuple[str, ...] = ()


OPEN = frozenset({S.REGISTERED, S.ASSESSED, S.RECTIFYING, S.VERIFICATION_REQUESTED, S.ACCEPTED})

STEPS: dict[Action, Step] = {
    s.action: s
    for s in (
        Step(Action.ASSESS, frozenset({S.REGISTERED}), S.ASSESSED, ("level",), ("level", "supervision_level", "basis")),
        Step(
            Action.START,
            frozenset({S.ASSESSED}),
            S.RECTIFYING,
            ("measures", "deadline"),
            ("measures", "deadline", "funds_yuan", "contingency_plan", "responsible_unit", "responsible_person"),
        ),
        Step(Action.EXTEND, frozenset({S.RECTIFYING}), None, ("deadline", "reason"), ("deadline",)),
        Step(Action.REQUEST_VERIFICATION, frozenset({S.RECTIFYING}), S.VERIFICATION_REQUESTED),
        Step(Action.ACCEPT, frozenset({S.VERIFICATION_REQUESTED}), S.ACCEPTED, ("acceptor",), ("acceptor",)),
        Step(Action.REJECT, frozenset({S.VERIFICATION_REQUESTED}), S.RECTIFYING, ("reason",)),
        Step(Action.CLOSE, frozenset({S.ACCEPTED}), S.CLOSED),
        Step(Action.VOID, OPEN, S.VOIDED, ("reason",)),
        Step(
            Action.EDIT,
            OPEN,
            None,
            (),
            (
                "description",
                "unit",
                "sector",
                "basis",
                "responsible_unit",
                "responsible_person",
                "measures",
                "funds_yuan",
                "contingency_plan",
                "linked_layer",
                "linked_fid",
            ),
        ),  # fmt: skip
    )
}

#: Supervising levels from lowest to highest: a sign-off counts when it comes from the hazard's level or above.
LEVEL_ORDER = (SupervisionLevel.TOWN, SupervisionLevel.BANNER, SupervisionLevel.CITY)


class TransitionError(ValueError):
    """A step that is not allowed now, or lacks what it needs; the message says what to do instead."""


@dataclass(frozen=True)
class Event:
    """One entry of a hazard's history: who did what when, the status before and after, and what changed."""

    action: Action
    actor: str
    at: datetime
    from_status: HazardStatus
    to_status: HazardStatus
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    note: str = ""


def registration(hazard: HazardProperties, *, actor: str, at: datetime) -> Event:
    """The first event of a newly registered hazard (registration is where the workflow starts, not a step of it)."""
    fields = hazard.model_dump(exclude_none=True)
    return Event(Action.REGISTER, actor, at, S.REGISTERED, S.REGISTERED, {k: (None, v) for k, v in fields.items()})


def allowed(status: HazardStatus) -> list[Action]:
    """The actions that may be taken from `status`, in workflow order."""
    return [a for a, step in STEPS.items() if status in step.sources]


def is_overdue(hazard: HazardProperties, today: date) -> bool:
    """In rectification (or waiting to start it) with its deadline passed: 逾期."""
    return hazard.status in (S.ASSESSED, S.RECTIFYING) and hazard.deadline is not None and hazard.deadline < today


def apply(
    hazard: HazardProperties,
    action: Action | str,
    request: Mapping[str, Any],
    *,
    actor: str,
    at: datetime,
    signed_off_by: SupervisionLevel | None = None,
) -> tuple[HazardProperties, Event]:
    """Take one step: the hazard's new attributes and the event recording it, or TransitionError.

    `request` holds the step's fields (see STEPS) plus `reason` or `note`; `signed_off_by` is the supervising level
    the actor speaks for, which closing a 重大 hazard needs.
    """
    try:
        action = Action(action)
    except ValueError:
        raise TransitionError(f"未知操作 {action!r} (unknown action): use one of {', '.join(Action)}") from None
    if action not in STEPS:
        raise TransitionError(f"“{action.label}”不是整改流程中的一步 ({action.value} is not a workflow step)")
    step = STEPS[action]
    if hazard.status not in step.sources:
        options = "、".join(f"{a.label} ({a.value})" for a in allowed(hazard.status)) or "无（已结束）"
        raise TransitionError(
            f"隐患处于“{hazard.status.label}”状态，不能{action.label}；可以：{options} "
            f"(cannot {action.value} a hazard that is {hazard.status.value})"
        )
    unknown = set(request) - {*step.requires, *step.sets, "reason", "note"}
    if unknown:
        raise TransitionError(
            f"{action.label}不接受这些字段 (not accepted by {action.value}): {', '.join(sorted(unknown))}"
        )
    missing = [name for name in step.requires if request.get(name) in (None, "")]
    if missing:
        raise TransitionError(f"{action.label}需要填写 (required for {action.value}): {', '.join(missing)}")
    updates = {name: request[name] for name in step.sets if name in request}
    if step.target is not None:
        updates["status"] = step.target
    _rules(hazard, action, updates, at, signed_off_by)
    try:
        new = HazardProperties.model_validate({**hazard.model_dump(), **updates})
    except ValidationError as exc:
        raise TransitionError("; ".join(e["msg"] for e in exc.errors())) from None
    before, after = hazard.model_dump(), new.model_dump()
    changes = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
    note = str(request.get("reason") or request.get("note") or "")
    event = Event(action, actor, at, hazard.status, new.status, changes, note)
    return new, event


def _rules(
    hazard: HazardProperties,
    action: Action,
    updates: dict[str, Any],
    at: datetime,
    signed_off_by: SupervisionLevel | None,
) -> None:
    """The rules beyond "from which state": supervision of 重大 hazards, later deadlines, sign-off, dates."""
    if action == Action.ASSESS:
        if HazardLevel(updates["level"]) == HazardLevel.MAJOR:
            updates["supervised"] = True  # 重大事故隐患 are always 挂牌督办, at the banner level unless said otherwise
            updates["supervision_level"] = updates.get("supervision_level") or SupervisionLevel.BANNER
        else:
            updates["supervised"] = bool(updates.get("supervision_level"))
    if action == Action.EXTEND:
        new_deadline = date.fromisoformat(str(updates["deadline"]))
        if hazard.deadline is not None and new_deadline <= hazard.deadline:
            raise TransitionError(
                f"延期后的时限 {new_deadline} 必须晚于原时限 {hazard.deadline} "
                "(an extension must move the deadline later)"
            )
    if action == Action.ACCEPT:
        updates["accepted_on"] = at.date()
    if action == Action.CLOSE:
        if hazard.level == HazardLevel.MAJOR:
            needed = SupervisionLevel(hazard.supervision_level or SupervisionLevel.BANNER)
            if signed_off_by is None or LEVEL_ORDER.index(SupervisionLevel(signed_off_by)) < LEVEL_ORDER.index(needed):
                raise TransitionError(
                    f"重大事故隐患须经{needed.label}督办单位签字同意后方可销号 "
                    f"(a major hazard needs sign-off at {needed.value} level or above to close)"
                )
        updates["closed_on"] = at.date()
