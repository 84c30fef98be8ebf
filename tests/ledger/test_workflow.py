"""The hazard workflow: every legal step works, every illegal one is refused with a message, and the record is whole."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from layers.ledger import HazardProperties
from layers.vocab import HazardLevel, HazardStatus, SupervisionLevel
from ledger.roles import Role, User, visible_fids
from ledger.workflow import STEPS, Action, TransitionError, allowed, apply, is_overdue

S = HazardStatus
AT = datetime(2026, 3, 2, 9, 30)

#: A request that satisfies each action's requirements.
REQUESTS = {
    Action.ASSESS: {"level": "general"},
    Action.START: {"measures": "清除占用物", "deadline": "2026-04-01"},
    Action.EXTEND: {"deadline": "2026-06-01", "reason": "冻土期无法施工"},
    Action.REQUEST_VERIFICATION: {"note": "已清除"},
    Action.ACCEPT: {"acceptor": "王建国"},
    Action.REJECT: {"reason": "仍有杂物"},
    Action.CLOSE: {},
    Action.VOID: {"reason": "重复登记"},
    Action.EDIT: {"description": "消防车通道被柴草占用，剩余净宽 2 m"},
}
#: The state each action leads to (None: it stays).
EXPECTED = {
    Action.ASSESS: S.ASSESSED,
    Action.START: S.RECTIFYING,
    Action.EXTEND: None,
    Action.REQUEST_VERIFICATION: S.VERIFICATION_REQUESTED,
    Action.ACCEPT: S.ACCEPTED,
    Action.REJECT: S.RECTIFYING,
    Action.CLOSE: S.CLOSED,
    Action.VOID: S.VOIDED,
    Action.EDIT: None,
}
LEGAL = {
    S.REGISTERED: {Action.ASSESS, Action.VOID, Action.EDIT},
    S.ASSESSED: {Action.START, Action.VOID, Action.EDIT},
    S.RECTIFYING: {Action.EXTEND, Action.REQUEST_VERIFICATION, Action.VOID, Action.EDIT},
    S.VERIFICATION_REQUESTED: {Action.ACCEPT, Action.REJECT, Action.VOID, Action.EDIT},
    S.ACCEPTED: {Action.CLOSE, Action.VOID, Action.EDIT},
    S.CLOSED: set(),
    S.VOIDED: set(),
}


def hazard(status: HazardStatus = S.REGISTERED, **overrides) -> HazardProperties:
    fields = {
        "code": "YLY-2026-001",
        "village_code": "150525107201",
        "sector": "fire",
        "description": "消防车通道被柴草堵塞",
        "discovered_on": date(2026, 3, 1),
        "channel": "department_inspection",
        "responsible_unit": "义隆永镇人民政府",
        "responsible_person": "张三",
        "status": status,
    }
    if status in (S.RECTIFYING, S.VERIFICATION_REQUESTED, S.ACCEPTED, S.CLOSED):
        fields |= {"measures": "清除", "deadline": date(2026, 4, 1)}
    return HazardProperties(**(fields | overrides))


def test_the_table_is_the_one_in_domain_md():
    assert {status: set(allowed(status)) for status in S} == LEGAL


@pytest.mark.parametrize(("status", "action"), [(s, a) for s in S for a in LEGAL[s]])
def test_every_legal_step_works_and_is_recorded(status, action):
    before = hazard(status)
    after, event = apply(before, action, REQUESTS[action], actor="镇安办", at=AT)
    assert after.status == (EXPECTED[action] or status)
    assert (event.action, event.actor, event.at) == (action, "镇安办", AT)
    assert (event.from_status, event.to_status) == (status, after.status)
    for name, (old, new) in event.changes.items():
        assert getattr(before, name) == old and getattr(after, name) == new
    assert all(getattr(before, n) == getattr(after, n) for n in HazardProperties.model_fields if n not in event.changes)


@pytest.mark.parametrize(("status", "action"), [(s, a) for s in S for a in STEPS if a not in LEGAL[s]])
def test_every_illegal_step_is_refused_with_what_is_allowed(status, action):
    before = hazard(status)
    with pytest.raises(TransitionError) as caught:
        apply(before, action, REQUESTS[action], actor="镇安办", at=AT)
    message = str(caught.value)
    assert status.label in message and action.label in message
    for other in LEGAL[status]:
        assert other.label in message
    if not LEGAL[status]:
        assert "已结束" in message


@pytest.mark.parametrize("action", [a for a in STEPS if STEPS[a].requires])
def test_a_step_without_what_it_needs_is_refused(action):
    source = next(iter(STEPS[action].sources))
    request = {k: v for k, v in REQUESTS[action].items() if k not in STEPS[action].requires}
    with pytest.raises(TransitionError, match="需要填写"):
        apply(hazard(source), action, request, actor="x", at=AT)


def test_unknown_fields_and_actions_are_refused():
    with pytest.raises(TransitionError, match="不接受"):
        apply(hazard(), "assess", {"level": "general", "status": "closed"}, actor="x", at=AT)
    with pytest.raises(TransitionError, match="未知操作"):
        apply(hazard(), "delete", {}, actor="x", at=AT)
    with pytest.raises(TransitionError, match="不是整改流程"):
        apply(hazard(), "register", {}, actor="x", at=AT)


def test_a_major_hazard_is_supervised_and_closes_only_with_sign_off():
    graded, event = apply(hazard(), "assess", {"level": "major"}, actor="镇安办", at=AT)
    assert graded.supervised and graded.supervision_level == SupervisionLevel.BANNER
    assert event.changes["supervised"] == (False, True)
    h = graded
    for action in ("start", "request_verification", "accept"):
        h, _ = apply(h, action, REQUESTS[Action(action)], actor="镇安办", at=AT)
    with pytest.raises(TransitionError, match="签字"):
        apply(h, "close", {}, actor="镇安办", at=AT)
    with pytest.raises(TransitionError, match="签字"):
        apply(h, "close", {}, actor="镇安办", at=AT, signed_off_by=SupervisionLevel.TOWN)
    closed, event = apply(h, "close", {}, actor="旗应急局", at=AT, signed_off_by=SupervisionLevel.BANNER)
    assert closed.status == S.CLOSED and closed.closed_on == AT.date()
    assert apply(h, "close", {}, actor="市应急局", at=AT, signed_off_by=SupervisionLevel.CITY)[0].status == S.CLOSED


def test_a_general_hazard_closes_without_sign_off_and_may_be_supervised_by_choice():
    h, _ = apply(hazard(), "assess", {"level": "general"}, actor="x", at=AT)
    assert not h.supervised and h.supervision_level is None
    h, _ = apply(hazard(), "assess", {"level": "general", "supervision_level": "town"}, actor="x", at=AT)
    assert h.supervised and h.supervision_level == SupervisionLevel.TOWN
    done = hazard(S.ACCEPTED, level=HazardLevel.GENERAL, acceptor="李四", accepted_on=date(2026, 3, 30))
    assert apply(done, "close", {}, actor="x", at=AT)[0].status == S.CLOSED


def test_an_extension_needs_a_reason_and_a_later_deadline():
    h = hazard(S.RECTIFYING)
    with pytest.raises(TransitionError, match="晚于"):
        apply(h, "extend", {"deadline": "2026-03-15", "reason": "x"}, actor="x", at=AT)
    extended, event = apply(h, "extend", REQUESTS[Action.EXTEND], actor="x", at=AT)
    assert extended.deadline == date(2026, 6, 1) and extended.status == S.RECTIFYING
    assert event.changes == {"deadline": (date(2026, 4, 1), date(2026, 6, 1))} and event.note == "冻土期无法施工"


def test_a_failed_verification_goes_back_to_rectification_with_its_reason():
    h, event = apply(hazard(S.VERIFICATION_REQUESTED), "reject", {"reason": "仍有杂物"}, actor="验收组", at=AT)
    assert h.status == S.RECTIFYING and event.note == "仍有杂物"
    accepted, event = apply(hazard(S.VERIFICATION_REQUESTED), "accept", {"acceptor": "王五"}, actor="验收组", at=AT)
    assert accepted.accepted_on == AT.date() and accepted.acceptor == "王五"


def test_a_full_life_reads_back_in_order():
    h = hazard()
    history = []
    for action in ("assess", "start", "extend", "request_verification", "reject", "request_verification", "accept",
                   "close"):  # fmt: skip
        h, event = apply(h, action, REQUESTS[Action(action)], actor="镇安办", at=AT)
        history.append(event)
    assert [e.to_status for e in history] == [
        S.ASSESSED, S.RECTIFYING, S.RECTIFYING, S.VERIFICATION_REQUESTED, S.RECTIFYING, S.VERIFICATION_REQUESTED,
        S.ACCEPTED, S.CLOSED,
    ]  # fmt: skip
    assert all(a.to_status == b.from_status for a, b in zip(history, history[1:], strict=False))


def test_overdue_is_a_fact_about_the_deadline_not_a_stored_state():
    h = hazard(S.RECTIFYING)
    assert not is_overdue(h, date(2026, 4, 1)) and is_overdue(h, date(2026, 4, 2))
    assert not is_overdue(hazard(S.VERIFICATION_REQUESTED), date(2027, 1, 1))
    assert not is_overdue(hazard(S.REGISTERED), date(2027, 1, 1))


def test_who_sees_which_hazards_including_ones_without_a_village():
    frame = pd.DataFrame(
        {"village_code": ["150525107201", "150525107202", None], "unit": ["加油站", None, None]},
        index=pd.Index([3, 1, 2], name="fid"),
    )
    assert visible_fids(None, frame).tolist() == []
    for role in (Role.ADMIN, Role.EMERGENCY, Role.SUPERVISOR):
        assert visible_fids(User("x", role), frame).tolist() == [1, 2, 3]
    assert visible_fids(User("v", Role.VILLAGE, village_code="150525107201"), frame).tolist() == [3]
    assert visible_fids(User("u", Role.UNIT, unit="加油站"), frame).tolist() == [3]
