"""``isthmus system`` through the real entry point: add, show, test (a SQLite file and a missing
folder), delete; credentials never printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from isthmus.adapters.cli.main import run

SECRET = "cli-s3cret-77"
Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Invoke:
    monkeypatch.setenv("ISTHMUS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ISTHMUS_DB_URL", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert invoke("db", "upgrade")[0] == 0
    return invoke


def test_add_show_test_delete(cli: Invoke, tmp_path: Path) -> None:
    secrets = tmp_path / "fic.json"
    secrets.write_text(json.dumps({"password": SECRET}), encoding="utf-8")
    db = tmp_path / "fic.db"
    code, out, err = cli(
        "system", "add", "FIC", "--kind", "finance", "--setting", "connector=sql",
        "--setting", f"url=sqlite:///{db}", "--credentials-file", str(secrets),
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = cli("system", "show", "FIC")
    shown = json.loads(out)
    assert (shown["credentials"], shown["settings"]["connector"]) == ("set", "sql")
    code, out, _ = cli("system", "test", "FIC", "--json")
    assert code == 0
    assert json.loads(out)["ok"] is True
    cli(
        "system",
        "add",
        "HR",
        "--kind",
        "HR",
        "--setting",
        "connector=files",
        "--setting",
        f"folder={tmp_path}/no",
    )
    code, out, _ = cli("system", "test", "HR")
    assert code == 1
    assert "FAILED" in out
    assert "is not a folder" in out
    code, _, err = cli("system", "add", "X", "--kind", "other", "--setting", "client_secret=abc")
    assert code == 2
    assert "credentials" in err
    assert cli("system", "delete", "FIC")[0] == 0
    code, _, err = cli("system", "show", "FIC")
    assert code == 2
    assert "no system named FIC" in err
    everything = "".join(cli("system", "list", "--json")[1:])
    assert SECRET not in everything
