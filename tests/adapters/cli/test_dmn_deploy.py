"""``isthmus dmn deploy`` / ``dmn list`` and the demo's decision models, through the real CLI entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from isthmus.adapters.cli.main import run

Invoke = Callable[..., tuple[int, str, str]]
DEMO = Path(__file__).parents[3] / "src" / "isthmus" / "demo" / "decisions"


@pytest.fixture
def cli(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Invoke:
    monkeypatch.setenv("ISTHMUS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ISTHMUS_DB_URL", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run([*args, "--db", db_url])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_deploy_needs_a_migrated_database(cli: Invoke) -> None:
    code, _, err = cli("dmn", "deploy", str(DEMO / "tiered-approval.dmn"))
    assert code == 2
    assert "isthmus db upgrade" in err


def test_deploy_and_list(cli: Invoke, tmp_path: Path) -> None:
    assert cli("db", "upgrade")[0] == 0
    code, out, _ = cli("dmn", "deploy", str(DEMO / "tiered-approval.dmn"))
    assert (code, out.strip()) == (0, "tiered_approval version 1 (Approval route)")
    code, out, _ = cli("dmn", "deploy", str(DEMO / "tiered-approval.dmn"), "--json")
    assert (code, json.loads(out)["version"]) == (0, 1)
    edited = tmp_path / "edited.dmn"
    edited.write_bytes((DEMO / "tiered-approval.dmn").read_bytes().replace(b"&lt;= 50000", b"&lt;= 40000"))
    assert json.loads(cli("dmn", "deploy", str(edited), "--json")[1])["version"] == 2
    code, out, _ = cli("dmn", "list", "--json")
    assert (code, [(m["key"], m["version"]) for m in json.loads(out)]) == (0, [("tiered_approval", 2)])
    code, out, _ = cli("dmn", "list")
    assert code == 0
    assert "tiered_approval" in out
    broken = tmp_path / "broken.dmn"
    broken.write_bytes(b"<definitions")
    code, _, err = cli("dmn", "deploy", str(broken))
    assert (code, err.startswith("error: broken.dmn, line 1")) == (2, True)
    code, _, err = cli("dmn", "deploy", str(tmp_path / "missing.dmn"))
    assert (code, "cannot read the file" in err) == (2, True)


def test_demo_deploys_the_guides_decisions_idempotently(cli: Invoke) -> None:
    code, out, _ = cli("demo", "--no-serve")
    assert code == 0
    assert "tiered_approval v1, phone_validation_model v1" in out
    assert cli("demo", "--no-serve")[0] == 0
    rows = json.loads(cli("dmn", "list", "--json")[1])
    assert [(m["key"], m["version"]) for m in rows] == [("phone_validation_model", 1), ("tiered_approval", 1)]
