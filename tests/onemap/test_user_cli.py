"""`onemap user add` creates accounts that can sign in, and refuses ones that cannot work."""

from __future__ import annotations

from backends import BACKEND, town_copy
from typer.testing import CliRunner

from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store.users import UserStore


def test_user_add_then_sign_in(tmp_path):
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    runner = CliRunner()
    args = ["user", "add", "wang", "--role", "village", "--village", "150525107201", "--password-stdin", "--data"]
    result = runner.invoke(app, [*args, data], input="long enough pw\n")
    assert result.exit_code == 0, result.output
    store = UserStore(data)
    assert store.authenticate("wang", "long enough pw").village_code == "150525107201"
    assert store.authenticate("wang", "wrong password") is None
    password_hash = store._db.execute("SELECT password_hash FROM onemap_users").fetchone()[0]
    assert "long enough pw" not in password_hash and password_hash.startswith("$argon2id$")
    store.close()
    again = runner.invoke(app, [*args, data], input="long enough pw\n")
    assert again.exit_code == 2 and "已存在" in again.output
    no_village = runner.invoke(app, ["user", "add", "li", "--role", "village", "--password-stdin", "--data", data],
                               input="long enough pw\n")  # fmt: skip
    assert no_village.exit_code == 2 and "区划代码" in no_village.output
    bad_role = runner.invoke(app, ["user", "add", "x", "--role", "mayor", "--data", data])
    assert bad_role.exit_code == 2


def test_list_disable_enable_and_change_a_password(tmp_path):
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    runner = CliRunner()
    add = ["user", "add", "li", "--role", "emergency", "--name", "李应急", "--password-stdin", "--data", data]
    assert runner.invoke(app, add, input="first password\n").exit_code == 0
    listed = runner.invoke(app, ["user", "list", "--data", data])
    assert listed.exit_code == 0 and "li" in listed.output and "应急人员" in listed.output and "启用" in listed.output
    assert runner.invoke(app, ["user", "disable", "li", "--data", data]).exit_code == 0
    store = UserStore(data)
    assert store.authenticate("li", "first password") is None and store.get("li") is None
    store.close()
    assert runner.invoke(app, ["user", "enable", "li", "--data", data]).exit_code == 0
    passwd = ["user", "passwd", "li", "--password-stdin", "--data", data]
    assert runner.invoke(app, passwd, input="second password\n").exit_code == 0
    store = UserStore(data)
    assert store.authenticate("li", "first password") is None
    assert store.authenticate("li", "second password").display_name == "李应急"
    store.close()
    assert runner.invoke(app, ["user", "disable", "nobody", "--data", data]).exit_code == 2
