"""The API fuzzed against its own OpenAPI document by schemathesis, as every role: no 5xx, every status code, media
type, header and body as documented, and no unhandled exception in the service's log.

The real service runs as a process over a copy of the demo town; each role gets a bounded run (ONEMAP_FUZZ_SECONDS,
25 s by default) with a fixed seed, so a failure can be replayed with the command it prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from backends import BACKEND, town_on
from outside_tools import Service, service_process

from onemap.settings import DEMO_GPKG
from store.users import UserStore

PASSWORD = "correct horse battery"
UNIT = "中石油义隆永加油站"
#: Every role, with the remit its account holds; anonymous has no account.
ROLES = {
    "anonymous": None,
    "admin": {},
    "village": {"village_code": "150525107201"},
    "unit": {"unit": UNIT},
    "emergency": {},
    "supervisor": {"level": "banner"},
}
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
SECONDS = int(os.environ.get("ONEMAP_FUZZ_SECONDS", "25"))
SEED = 20261129


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[tuple[Service, dict[str, str | None]]]:
    path = tmp_path_factory.mktemp("fuzz") / "town.gpkg"
    shutil.copy(DEMO_GPKG, path)
    users = UserStore(path)
    for role, remit in ROLES.items():
        if remit is not None:
            users.add(role, PASSWORD, role, **remit)
    users.close()
    limits = {"ONEMAP_REPORT_LIMIT": "1000", "ONEMAP_LOGIN_LIMIT": "10000", "ONEMAP_LOG_FORMAT": "json"}
    with town_on(BACKEND, path) as location, service_process(location, **limits) as served:
        tokens: dict[str, str | None] = {"anonymous": None}
        for role in ROLES:
            if role != "anonymous":
                answer = httpx.post(f"{served.url}/auth/token", data={"username": role, "password": PASSWORD})
                tokens[role] = answer.json()["access_token"]
        yield served, tokens


def _schemathesis() -> str:
    return str(Path(sys.executable).with_name("st"))


@pytest.mark.parametrize("role", ROLES)
def test_the_api_holds_to_its_document_under_fuzzing(service, role: str, tmp_path: Path) -> None:
    served, tokens = service
    log_start = served.log.stat().st_size
    command = [_schemathesis(), "run", f"{served.url}/api", "--checks", ",".join(CHECKS)]
    command += ["--max-time", str(SECONDS), "--seed", str(SEED), "--workers", "1", "--request-timeout", "60"]
    command += ["--max-examples", "50", "--phases", "examples,coverage,fuzzing,stateful"]
    if tokens[role]:
        command += ["--header", f"Authorization: Bearer {tokens[role]}"]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=SECONDS * 6 + 120, env=_quiet_env(), cwd=tmp_path
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-8000:]
    selected = re.search(r"Selected:\s+(\d+)/(\d+)", out)
    tested = re.search(r"Tested:\s+(\d+)", out)
    assert selected and tested, out[-3000:]
    assert int(selected.group(1)) == int(selected.group(2)) == int(tested.group(1)) > 60, out[-3000:]
    _no_unhandled_exception(served.log, log_start)


def _quiet_env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"}


def _no_unhandled_exception(log: Path, start: int) -> None:
    with log.open("rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    errors = []
    for line in text.split("\n"):  # a log line ends at a newline; JSON leaves U+2028 and the like unescaped
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            errors.append(line)  # the service logs JSON only: anything else came from outside its handlers
            continue
        if record.get("level") in ("ERROR", "CRITICAL") or int(record.get("status") or 0) >= 500:
            errors.append(line)
    assert not errors, "\n".join(errors[:20])
