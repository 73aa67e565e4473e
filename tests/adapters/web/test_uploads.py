"""The deploy forms of the models, decisions and flows lists read their file through one helper
(``adapters/web/_uploads.py``): no file, a file one byte over the limit, and (flows) a file that is not
UTF-8 are each refused with the list shown again and a one-line message; a file at the limit passes
the size check. Run through the real app, as a signed-in user of each page."""

from __future__ import annotations

from dataclasses import replace

import pytest

from isthmus.bootstrap import Container
from tests.adapters.web.web_client import TestClient, sign_in, visible_text

LIMIT = 64
PAGES = [
    ("/models", "owner", "choose a .bpmn file to deploy"),
    ("/decisions", "expert", "choose a .dmn file to deploy"),
    ("/flows", "integrator", "choose a flow YAML file to deploy"),
]


@pytest.mark.parametrize(("path", "user", "missing"), PAGES)
def test_the_three_deploy_forms_refuse_alike(
    client: TestClient, container: Container, path: str, user: str, missing: str
) -> None:
    container.settings = replace(container.settings, max_upload_bytes=LIMIT)
    csrf = sign_in(client, user)
    client.get("/language/en")

    def post(name: str, body: bytes) -> tuple[int, str]:
        sent = client.post(path, data={"csrf_token": csrf}, files={"file": (name, body, "text/plain")})
        return sent.status_code, visible_text(sent.text)

    code, text = post("", b"")
    assert code == 422
    assert missing in text
    code, text = post("big.x", b"x" * (LIMIT + 1))
    assert code == 422
    assert f"file: larger than {LIMIT} bytes" in text
    code, text = post("edge.x", b"x" * LIMIT)  # at the limit: past the size check, refused by the parser
    assert code == 422
    assert "larger than" not in text


def test_a_flow_file_that_is_not_utf8_is_refused(client: TestClient) -> None:
    csrf = sign_in(client, "integrator")
    client.get("/language/en")
    sent = client.post(
        "/flows",
        data={"csrf_token": csrf},
        files={"file": ("gbk.yaml", "流程: 订单".encode("gb18030"), "text/yaml")},
    )
    assert sent.status_code == 422
    assert "file: not UTF-8 text" in visible_text(sent.text)
