"""Who may do what with the ledger: the rules every endpoint asks before it reads or writes a hazard.

- 镇安全生产办公室 (admin): everything, including accepting, closing and voiding.
- 村干部 (village): read, create and update the hazards of their own village only; a hazard cannot be moved out of it.
- 企业/单位 (unit): their own hazards only — self-inspection, self-rectification, self-report (自查自改自报); acceptance
  and closing stay with the town.
- 应急人员 (emergency): read everything, change nothing.
- 督办单位 (supervisor, at banner or city level): read everything; sign off and close the 重大 hazards supervised at
  their level or below (挂牌督办 销号), and accept or reject their verification.
The public holds no account: it files reports (举报), which staff turn into hazards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from layers.vocab import Labeled, SupervisionLevel
from ledger.workflow import Action


class Role(Labeled):
    """An account's role."""

    ADMIN = "admin", "镇安全生产办公室"
    VILLAGE = "village", "村（嘎查）干部"
    UNIT = "unit", "企业/单位"
    EMERGENCY = "emergency", "应急人员"
    SUPERVISOR = "supervisor", "督办单位"


@dataclass(frozen=True)
class User:
    """A signed-in person: their role and, for village and unit accounts, whose hazards are theirs."""

    username: str
    role: Role
    village_code: str | None = None
    unit: str | None = None
    display_name: str = ""
    #: For supervisors: the level they supervise at (旗 or 市); the town office signs off at town level.
    level: SupervisionLevel | None = None

    @property
    def actor(self) -> str:
        """How the user is named in a hazard's history."""
        return self.display_name or self.username

    @property
    def signs_off_at(self) -> SupervisionLevel | None:
        """The supervising level this user's sign-off counts for."""
        if self.role == Role.SUPERVISOR:
            return self.level
        return SupervisionLevel.TOWN if self.role == Role.ADMIN else None


class Forbidden(PermissionError):
    """The user may not do this; the message says why."""


#: Workflow steps each role may take (on hazards it may touch at all).
STEPS_BY_ROLE: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.VILLAGE: frozenset({Action.ASSESS, Action.START, Action.EXTEND, Action.REQUEST_VERIFICATION, Action.EDIT}),
    Role.UNIT: frozenset({Action.START, Action.EXTEND, Action.REQUEST_VERIFICATION, Action.EDIT}),
    Role.EMERGENCY: frozenset(),
    Role.SUPERVISOR: frozenset({Action.ACCEPT, Action.REJECT, Action.CLOSE}),
}


def owns(user: User, hazard: Any) -> bool:
    """Whether the hazard is within the user's remit (its village for village officials, its unit for units)."""
    if user.role in (Role.ADMIN, Role.EMERGENCY, Role.SUPERVISOR):
        return True
    if user.role == Role.VILLAGE:
        return user.village_code is not None and _get(hazard, "village_code") == user.village_code
    return user.unit is not None and _get(hazard, "unit") == user.unit


def visible_fids(user: User | None, hazards: Any) -> np.ndarray:
    """`owns` for a whole fid-indexed frame at once: the ids (ascending) the viewer may see, none when not signed in.

    Hazards without a village or unit are visible to the roles that see everything, and to no one else.
    """
    if user is None:
        return np.zeros(0, dtype=np.int64)
    if user.role in (Role.ADMIN, Role.EMERGENCY, Role.SUPERVISOR):
        keep = np.ones(len(hazards), dtype=bool)
    elif user.role == Role.VILLAGE:
        keep = hazards["village_code"].eq(user.village_code).fillna(False).to_numpy(dtype=bool)
    else:
        keep = hazards["unit"].eq(user.unit).fillna(False).to_numpy(dtype=bool)
    return np.sort(hazards.index.to_numpy(dtype=np.int64)[keep])


def check_read(user: User, hazard: Any) -> None:
    """Forbidden unless the user may see this hazard."""
    if not owns(user, hazard):
        raise Forbidden(_not_yours(user))


def check_create(user: User, hazard: Any) -> None:
    """Forbidden unless the user may register this hazard (where it is and whose it is)."""
    if user.role in (Role.EMERGENCY, Role.SUPERVISOR):
        raise Forbidden(f"{user.role.label}账号不登记隐患 ({user.role.value} accounts do not register hazards)")
    if not owns(user, hazard):
        raise Forbidden(_not_yours(user))


def check_step(user: User, hazard: Any, action: Action | str) -> None:
    """Forbidden unless the user may take this workflow step on this hazard."""
    check_read(user, hazard)
    action = Action(action)
    if action not in STEPS_BY_ROLE[user.role]:
        raise Forbidden(f"{user.role.label}不能执行“{action.label}” (role {user.role.value} may not {action.value})")
    if user.role == Role.SUPERVISOR and not _get(hazard, "supervised"):
        raise Forbidden("督办单位只处理挂牌督办的隐患 (supervisors act only on supervised hazards)")


def check_move(user: User, old_village: str | None, new_village: str | None) -> None:
    """Forbidden when a village official would move a hazard out of their village."""
    if user.role == Role.VILLAGE and new_village != old_village:
        raise Forbidden(f"不能把隐患移出本村 {user.village_code} (a village official cannot move a hazard elsewhere)")


def _not_yours(user: User) -> str:
    if user.role == Role.VILLAGE:
        return f"只能访问本村（{user.village_code}）的隐患 (village accounts see only their own village)"
    if user.role == Role.UNIT:
        return f"只能访问本单位（{user.unit}）的隐患 (unit accounts see only their own hazards)"
    return "无权访问 (not allowed)"


def _get(hazard: Any, name: str) -> Any:
    return hazard.get(name) if isinstance(hazard, dict) else getattr(hazard, name, None)
