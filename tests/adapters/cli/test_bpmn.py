"""``isthmus bpmn check/export/versions/diff/list`` and ``isthmus deploy``, through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from isthmus.adapters.cli.main import run
from isthmus.models import same_document
from tests.models._builders import bpmn, straight
from tests.models._files import BPMN, MIWG_FILES

Invoke = Callable[..., tuple[int, str, str]]
APPROVAL = BPMN / "approval.bpmn"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Invoke:
    """The CLI on a SQLite file (``db_url`` tests below also run it on PostgreSQL)."""
    monkeypatch.setenv("ISTHMUS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ISTHMUS_DB_URL", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_check_valid_file(cli: Invoke) -> None:
    code, out, err = cli("bpmn", "check", str(APPROVAL))
    assert (code, out) == (0, "")
    assert "valid" in err


def test_check_invalid_file_prints_one_line_per_problem(cli: Invoke, tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpmn"
    bad.write_bytes(
        bpmn(
            '<startEvent id="s"/><task id="t"/><serviceTask id="x"/><endEvent id="e"/>'
            + straight("s", "x", "e")
        )
    )
    code, out, _ = cli("bpmn", "check", str(bad))
    assert code == 1
    lines = out.splitlines()
    assert f"{bad}:5: t: has no incoming sequence flow, so it can never run" in lines
    assert all(line.startswith(f"{bad}:5: ") for line in lines)
    assert len(lines) == 3  # t: no incoming, t: no outgoing, x: no binding
    code, out, _ = cli("bpmn", "check", str(bad), "--json")
    body = json.loads(out)
    assert (code, body["valid"], len(body["problems"])) == (1, False, 3)


@pytest.mark.parametrize("content", [b"", b"<definitions", b"not xml at all", b'<?xml version="1.0"?><x/>'])
def test_check_unreadable_is_exit_2(cli: Invoke, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.bpmn"
    path.write_bytes(content)
    code, out, err = cli("bpmn", "check", str(path))
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1


def test_check_missing_file_is_exit_2(cli: Invoke, tmp_path: Path) -> None:
    code, _, err = cli("bpmn", "check", str(tmp_path / "missing.bpmn"))
    assert code == 2
    assert "cannot read the file" in err


@pytest.mark.parametrize("path", MIWG_FILES, ids=lambda p: p.stem)
def test_export_file_round_trips(cli: Invoke, tmp_path: Path, path: Path) -> None:
    out = tmp_path / "out.bpmn"
    code, _, _ = cli("bpmn", "export", str(path), "-o", str(out))
    assert code == 0
    assert out.read_bytes() == path.read_bytes()
    assert same_document(out.read_bytes(), path.read_bytes())


def test_deploy_versions_diff_export(cli: Invoke, tmp_path: Path, db_url: str) -> None:
    db = ["--db", db_url]
    assert cli("db", "upgrade", *db)[0] == 0
    code, out, _ = cli("deploy", str(APPROVAL), *db)
    assert (code, out) == (0, "approval version 1\n")
    code, out, _ = cli("deploy", str(APPROVAL), "--json", *db)
    body = json.loads(out)
    assert (code, body["key"], body["version"], len(body["hash"])) == (0, "approval", 1, 64)
    edited = tmp_path / "edited.bpmn"
    edited.write_bytes(APPROVAL.read_bytes().replace(b'isthmus:sla="PT30M"', b'isthmus:sla="PT1H"'))
    assert json.loads(cli("deploy", str(edited), "--json", *db)[1])["version"] == 2
    code, out, _ = cli("bpmn", "versions", "approval", "--json", *db)
    assert (code, [v["version"] for v in json.loads(out)]) == (0, [1, 2])
    code, out, _ = cli("bpmn", "diff", "approval", "1", "2", "--json", *db)
    changed = json.loads(out)["nodes"]["changed"]
    assert (code, changed[0]["id"], changed[0]["fields"]["props.sla"]) == (
        0,
        "enter",
        {"before": "PT30M", "after": "PT1H"},
    )
    code, out, _ = cli("bpmn", "diff", "approval", "1", "2", *db)
    assert "~ node enter 'Enter order': props.sla: 'PT30M' → 'PT1H'" in out
    exported = tmp_path / "v1.bpmn"
    assert cli("bpmn", "export", "approval:1", "-o", str(exported), *db)[0] == 0
    assert exported.read_bytes() == APPROVAL.read_bytes()
    assert cli("bpmn", "export", "approval", "-o", str(exported), *db)[0] == 0
    assert exported.read_bytes() == edited.read_bytes()
    code, out, _ = cli("bpmn", "list", "--json", *db)
    assert [(p["key"], p["version"]) for p in json.loads(out)] == [("approval", 2)]
    code, _, err = cli("bpmn", "versions", "nope", *db)
    assert (code, "no process definition with key nope" in err) == (2, True)


def test_deploy_refuses_an_invalid_model_with_exit_1(cli: Invoke, tmp_path: Path, db_url: str) -> None:
    assert cli("db", "upgrade", "--db", db_url)[0] == 0
    bad = tmp_path / "bad.bpmn"
    bad.write_bytes(bpmn('<startEvent id="s"/><task id="t"/><endEvent id="e"/>' + straight("s", "e")))
    code, out, err = cli("deploy", str(bad), "--db", db_url)
    assert (code, out) == (1, "")
    assert f"{bad}:5: t: has no incoming sequence flow, so it can never run" in err.splitlines()
