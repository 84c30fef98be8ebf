"""Accounts, kept in the same GeoPackage as the data: usernames, password hashes (argon2), roles and remits.

Passwords are hashed with argon2id through pwdlib and never stored or logged in clear. The key that signs access
tokens is generated once per data file and kept beside the accounts, so tokens outlive a restart of the service.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from pwdlib import PasswordHash

from layers.vocab import SupervisionLevel
from ledger.roles import Role, User
from store.base import StoreError
from store.sql import Tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS onemap_users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    village_code TEXT,
    unit TEXT,
    display_name TEXT NOT NULL DEFAULT '',
    level TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS onemap_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
MIN_PASSWORD = 8
_HASHER = PasswordHash.recommended()
#: Verified against when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a real password")


class UserError(StoreError):
    """An account that cannot be created as asked (duplicate name, short password, missing village or unit)."""


class UserStore(Tables):
    """Create accounts and check passwords."""

    SCHEMA = SCHEMA
    ADDED_COLUMNS = {"onemap_users": {"level": "TEXT"}}  # files made before supervisors had accounts

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._key: str | None = None

    def _one(self, sql: str, params: tuple = ()) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def add(
        self,
        username: str,
        password: str,
        role: Role | str,
        *,
        village_code: str | None = None,
        unit: str | None = None,
        display_name: str = "",
        level: SupervisionLevel | str | None = None,
    ) -> User:
        """A new account; UserError when the name is taken or the remit does not fit the role."""
        role = Role(role)
        if not username.strip() or len(username) > 40:
            raise UserError("用户名不能为空，且不超过 40 个字符 (username: 1 to 40 characters)")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"密码至少 {MIN_PASSWORD} 位 (password: at least {MIN_PASSWORD} characters)")
        if role == Role.VILLAGE and not (village_code and village_code.isdigit() and len(village_code) == 12):
            raise UserError("村干部账号需要 12 位村级区划代码 (a village account needs its 12-digit village code)")
        if role == Role.UNIT and not unit:
            raise UserError("企业/单位账号需要单位名称 (a unit account needs the unit's name)")
        if role == Role.SUPERVISOR and level not in ("banner", "city"):
            raise UserError(
                "督办单位账号需要督办级别 banner 或 city (a supervisor account needs --level banner or city)"
            )
        level = SupervisionLevel(level) if role == Role.SUPERVISOR else None
        created = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO onemap_users"
                    " (username, password_hash, role, village_code, unit, display_name, level, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        username,
                        _HASHER.hash(password),
                        role.value,
                        village_code,
                        unit,
                        display_name,
                        level.value if level else None,
                        created,
                    ),  # fmt: skip
                )
        except Exception as exc:
            if self._db.is_duplicate(exc):
                raise UserError(f"用户名 {username!r} 已存在 (username taken)") from None
            raise
        return User(username, role, village_code, unit, display_name, level)

    def all(self) -> list[tuple[User, bool, str]]:
        """Every account, active or not, with its creation time, by name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT username, role, village_code, unit, display_name, level, active, created_at"
                " FROM onemap_users ORDER BY username"
            ).fetchall()
        return [
            (User(n, Role(r), v, u, d, SupervisionLevel(lv) if lv else None), bool(active), created)
            for n, r, v, u, d, lv, active, created in rows
        ]

    def set_active(self, username: str, active: bool) -> None:
        """Switch an account off (its tokens stop working at once) or back on."""
        with self._lock:
            cursor = self._db.execute("UPDATE onemap_users SET active = ? WHERE username = ?", (int(active), username))
        if cursor.rowcount != 1:
            raise UserError(f"没有用户 {username!r} (no such user)")

    def set_password(self, username: str, password: str) -> None:
        """Replace an account's password."""
        if len(password) < MIN_PASSWORD:
            raise UserError(f"密码至少 {MIN_PASSWORD} 位 (password: at least {MIN_PASSWORD} characters)")
        with self._lock:
            cursor = self._db.execute(
                "UPDATE onemap_users SET password_hash = ? WHERE username = ?", (_HASHER.hash(password), username)
            )
        if cursor.rowcount != 1:
            raise UserError(f"没有用户 {username!r} (no such user)")

    def get(self, username: str) -> User | None:
        """The active account of that name, or None."""
        row = self._one(
            "SELECT role, village_code, unit, display_name, level FROM onemap_users WHERE username = ? AND active = 1",
            (username,),
        )
        if row is None:
            return None
        role, village_code, unit, display_name, level = row
        return User(username, Role(role), village_code, unit, display_name, SupervisionLevel(level) if level else None)

    def authenticate(self, username: str, password: str) -> User | None:
        """The account when the password is right, else None (same work either way)."""
        row = self._one("SELECT password_hash FROM onemap_users WHERE username = ? AND active = 1", (username,))
        if row is None:
            _HASHER.verify(password, _DUMMY_HASH)
            return None
        return self.get(username) if _HASHER.verify(password, row[0]) else None

    def signing_key(self) -> str:
        """The token-signing key of this data file, made on first use."""
        if self._key is None:
            with self._lock:
                key = secrets.token_urlsafe(48)
                self._db.execute(
                    "INSERT INTO onemap_keys (name, value) VALUES ('token', ?) ON CONFLICT DO NOTHING", (key,)
                )
                self._key = str(self._db.execute("SELECT value FROM onemap_keys WHERE name = 'token'").fetchone()[0])
        return self._key
